"""End to end: `rearbuild image` with OUTPUT_URL=s3:// sends the real rescue ISO to the store with its metadata;
`rearbuild publish URL` without files sends the same results again elsewhere, and `rearbuild fetch` gives back
the ISO byte for byte."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rearbuild.facts import short_hostname
from tests.integration.output.stores.servers import Server

pytestmark = pytest.mark.slow


def _run(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "rearbuild", "-c", str(root / "etc"), "--var-dir", str(root / "var"),
            "--log-dir", str(root / "log"), "--tmpdir", str(root / "tmp"), *args]  # fmt: skip
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, cwd=root)


@pytest.mark.parametrize("store_server", ["s3"], indirect=True)
def test_image_goes_to_the_store_and_comes_back_identical(store_server: Server, tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "local.conf").write_text(f"OUTPUT_URL=s3://results/e2e\n{store_server.conf()}")
    env = store_server.env(tmp_path / "home")
    image = _run(tmp_path, env, "image")
    assert image.returncode == 0, image.stderr[-3000:]
    host = short_hostname()
    iso = tmp_path / "var" / "output" / f"rear-{host}.iso"
    assert iso.is_file(), "the ISO stays where it was built too"

    # OUTPUT_PREFIX ($HOSTNAME) is below the URL, as for file://
    fetched = _run(tmp_path, env, "fetch", f"s3://results/e2e/{host}", str(tmp_path / "from-output"))
    assert fetched.returncode == 0, fetched.stderr[-3000:]
    assert (tmp_path / "from-output" / iso.name).read_bytes() == iso.read_bytes()
    meta = json.loads((tmp_path / "from-output" / "rearbuild-metadata.json").read_text())
    latest = json.loads((tmp_path / "var" / "output" / "latest-results.json").read_text())
    assert {key: meta[key] for key in latest["provenance"]} == latest["provenance"]
    assert meta["host"] and meta["kernel"] and len(meta["manifest_sha256"]) == 64

    # publish without files: this host's last results
    again = _run(tmp_path, env, "publish", "s3://results/by-hand")
    assert again.returncode == 0, again.stderr[-3000:]
    fetched = _run(tmp_path, env, "fetch", f"s3://results/by-hand/{host}", str(tmp_path / "by-hand"))
    assert fetched.returncode == 0, fetched.stderr[-3000:]
    assert (tmp_path / "by-hand" / iso.name).read_bytes() == iso.read_bytes()
    assert (tmp_path / "by-hand" / "rearbuild-metadata.json").read_bytes() == (
        tmp_path / "from-output" / "rearbuild-metadata.json"
    ).read_bytes()
