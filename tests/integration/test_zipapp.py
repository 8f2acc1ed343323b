"""The recovery program as the rescue system runs it: the zipapp of the package, its data only in the share
directory the `rear` wrapper names (REARBUILD_SHARE_DIR), none inside the zip. Every workflow that reads shipped
data must find it there; a rescue system where `rear dump` or `rear recover` cannot start is found out only in
the disaster (it happened: the variable table was read from inside the zipapp)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from rearbuild.build.zipapp import zipapp_bytes
from rearbuild.paths import PACKAGE_DIR, default_share_dir

pytestmark = pytest.mark.slow


def test_the_zipapp_runs_with_the_share_directory_only(tmp_path: Path) -> None:
    app = tmp_path / "rearbuild.pyz"
    app.write_bytes(zipapp_bytes(PACKAGE_DIR, epoch=0))
    share = tmp_path / "share"
    for part in ("conf", "recipes"):  # what the image carries (rearbuild.build.generated)
        shutil.copytree(default_share_dir() / part, share / part)
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "local.conf").write_text("OUTPUT=ISO\nISO_MKISOFS_BIN=/usr/bin/xorrisofs\n")
    argv = ["/usr/bin/python3", "-I", str(app), "-c", str(tmp_path / "etc"), "--var-dir", str(tmp_path / "var"),
            "--log-dir", str(tmp_path / "log"), "--tmpdir", str(tmp_path)]  # fmt: skip
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "REARBUILD_SHARE_DIR": str(share)}
    outputs = {}
    for args in (("dump",), ("dump", "ISO_MKISOFS_BIN"), ("help", "OUTPUT_URL")):
        done = subprocess.run([*argv, *args], capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0 and "BUG" not in done.stderr, f"{args}: {done.stderr[-2000:]}"
        outputs[args[-1]] = done.stdout
    assert "ISO_MKISOFS_BIN: accepted, has no effect" in outputs["ISO_MKISOFS_BIN"]  # the table was read
    assert outputs["OUTPUT_URL"].startswith("OUTPUT_URL=")  # default.conf's documentation was read
    # the image's layout: the share directory is the zipapp's own directory (/usr/share/rear), found also
    # without the wrapper's variable (a script that imports rearbuild from the zipapp)
    beside = tmp_path / "image"
    shutil.copytree(share, beside)
    shutil.copy(app, beside / app.name)
    argv[2] = str(beside / app.name)
    done = subprocess.run([*argv, "dump", "ISO_MKISOFS_BIN"], capture_output=True, text=True,
                          env={"PATH": env["PATH"]}, timeout=120)  # fmt: skip
    assert done.returncode == 0 and "ISO_MKISOFS_BIN: accepted, has no effect" in done.stdout, done.stderr[-2000:]
