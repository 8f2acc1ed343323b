"""Publish and fetch against real stores on 127.0.0.1 (servers.py): Debian's docker-registry (OCI), SeaweedFS
(S3, SigV4) and nginx WebDAV, each with the credentials it checks, through the real command line."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import subprocess
import threading
from pathlib import Path

import pytest

from rearbuild.paths import default_share_dir
from tests.conftest import RearEnv
from tests.integration.output.stores.servers import SECRET, USER, WRONG, DroppingProxy, Server

pytestmark = pytest.mark.slow

# the hint of a refused login names the place the credentials come from
FIX = {"s3": "AWS_SECRET_ACCESS_KEY", "webdav": "~/.netrc", "oci": "docker login"}


def _run(env: RearEnv, server_env: dict[str, str], *args: str, conf: str = "") -> subprocess.CompletedProcess[str]:
    # OUTPUT_PREFIX empty: the set is at the URL itself
    env.write("etc/local.conf", f"OUTPUT_PREFIX=\n{conf}")
    recipes = env.share_dir / "recipes"
    if not recipes.exists():
        recipes.symlink_to(default_share_dir() / "recipes")
    return subprocess.run(env.command(*args), env=server_env, capture_output=True, text=True, timeout=120,
                          cwd=env.root)  # fmt: skip


def _files(tmp_path: Path, size: int = 200_000) -> list[Path]:
    (tmp_path / "results").mkdir(exist_ok=True)
    iso = tmp_path / "results" / "rear-web01.iso"
    iso.write_bytes(os.urandom(size))
    notes = tmp_path / "results" / "notes.txt"
    notes.write_text("rescue image of web01\n")
    return [iso, notes]


def _location(result: subprocess.CompletedProcess[str]) -> str:
    match = re.search(r"fetch it with: rearbuild fetch (\S+)", result.stdout + result.stderr)
    assert match, result.stderr[-2000:]
    return match.group(1)


def _everything_written(env: RearEnv, result: subprocess.CompletedProcess[str]) -> str:
    logs = "".join(p.read_text(errors="replace") for p in env.log_dir.rglob("*") if p.is_file())
    return logs + result.stdout + result.stderr


def test_round_trip_then_the_same_bytes_again_change_nothing(store_server: Server, rear_env: RearEnv,
                                                             tmp_path: Path) -> None:  # fmt: skip
    files = _files(tmp_path)
    env = store_server.env(tmp_path / "home")
    url = store_server.url("roundtrip")
    first = _run(rear_env, env, "publish", url, *map(str, files), conf=store_server.conf())
    assert first.returncode == 0, first.stderr[-3000:]
    location = _location(first)
    before = store_server.snapshot()
    assert before, "nothing arrived on the server"

    again = _run(rear_env, env, "publish", url, *map(str, files), conf=store_server.conf())
    assert again.returncode == 0, again.stderr[-3000:]
    assert "nothing sent" in again.stdout + again.stderr
    assert store_server.snapshot() == before, "publishing the same bytes again wrote to the server"

    fetched = tmp_path / "fetched"
    result = _run(rear_env, env, "fetch", location, str(fetched), conf=store_server.conf())
    assert result.returncode == 0, result.stderr[-3000:]
    for path in files:
        data = (fetched / path.name).read_bytes()
        assert data == path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        assert (fetched / f"{path.name}.sha256").read_text() == f"{digest}  {path.name}\n"
    meta = json.loads((fetched / "rearbuild-metadata.json").read_text())
    assert meta["kernel"] == os.uname().release and meta["rearbuild_version"] and meta["host"]
    assert "source_date_epoch" in meta and "manifest_sha256" in meta
    assert [(f["name"], f["size"]) for f in meta["files"]] == [(p.name, p.stat().st_size) for p in files]


def test_only_what_the_store_lacks_is_sent(store_server: Server, rear_env: RearEnv, tmp_path: Path) -> None:
    iso, notes = _files(tmp_path)
    env = store_server.env(tmp_path / "home")
    url = store_server.url("partial")
    first = _run(rear_env, env, "publish", url, str(iso), conf=store_server.conf())
    assert first.returncode == 0, first.stderr[-3000:]
    second = _run(rear_env, env, "publish", url, str(iso), str(notes), conf=store_server.conf())
    assert second.returncode == 0, second.stderr[-3000:]
    # the ISO (and its .sha256) were there: only notes.txt (+ its .sha256) and the new metadata (OCI: its manifest)
    sent = 3 if store_server.kind in ("s3", "webdav") else 2
    assert f"({sent} object(s) sent" in second.stdout + second.stderr, second.stderr


def test_fetch_refuses_a_changed_file(store_server: Server, rear_env: RearEnv, tmp_path: Path) -> None:
    files = _files(tmp_path)
    env = store_server.env(tmp_path / "home")
    published = _run(rear_env, env, "publish", store_server.url("damaged"), *map(str, files),
                     conf=store_server.conf())  # fmt: skip
    assert published.returncode == 0, published.stderr[-3000:]
    store_server.damage("damaged", files[0].name)
    fetched = tmp_path / "fetched"
    result = _run(rear_env, env, "fetch", _location(published), str(fetched), conf=store_server.conf())
    assert result.returncode == 1
    assert files[0].name in result.stderr and ("does not match" in result.stderr), result.stderr
    assert "Traceback" not in result.stderr
    assert not (fetched / files[0].name).exists(), "a file that does not match was kept"


def test_fetch_refuses_a_location_without_metadata(store_server: Server, rear_env: RearEnv, tmp_path: Path) -> None:
    env = store_server.env(tmp_path / "home")
    result = _run(rear_env, env, "fetch", store_server.url("never-published"), str(tmp_path / "f"),
                  conf=store_server.conf())  # fmt: skip
    assert result.returncode == 1
    assert "no published set" in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_wrong_credentials_are_refused_in_one_line_naming_the_fix(store_server: Server, rear_env: RearEnv,
                                                                  tmp_path: Path) -> None:  # fmt: skip
    env = store_server.env(tmp_path / "home", password=WRONG)
    result = _run(rear_env, env, "publish", store_server.url("wrongcreds"), *map(str, _files(tmp_path)),
                  conf=store_server.conf())  # fmt: skip
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line or "error" in line.lower()]
    assert len([e for e in errors if "hint:" not in e]) == 1, result.stderr
    assert "credentials" in result.stderr and FIX[store_server.kind] in result.stderr, result.stderr
    assert WRONG not in _everything_written(rear_env, result)
    assert store_server.final_names("wrongcreds") == []


def test_an_interrupted_upload_leaves_nothing_under_the_final_name(store_server: Server, rear_env: RearEnv,
                                                                   tmp_path: Path) -> None:  # fmt: skip
    # every connection is cut after 256 KiB from the client: the 2 MB file never arrives whole, however often
    # it is retried; small requests (HEAD, MKCOL, the upload's start) pass
    proxy = DroppingProxy(store_server.port, 256 * 1024)
    try:
        env = store_server.env(tmp_path / "home", port=proxy.port)
        files = _files(tmp_path, size=2_000_000)
        result = _run(rear_env, env, "publish", store_server.url("interrupted", proxy.port), *map(str, files),
                      conf=store_server.conf(proxy.port))  # fmt: skip
    finally:
        proxy.close()
    assert result.returncode == 1, result.stderr[-3000:]
    assert proxy.cut >= 2, "the upload was not cut (or not retried)"
    assert "Traceback" not in result.stderr
    assert store_server.final_names("interrupted") == [], "a half-written set is visible under its final name"


def test_secrets_stay_out_of_logs_errors_and_argv(store_server: Server, rear_env: RearEnv, tmp_path: Path) -> None:
    env = store_server.env(tmp_path / "home")
    files = _files(tmp_path, size=1_000_000)
    seen: list[str] = []
    done = threading.Event()

    def watch() -> None:  # every command line on the machine while rearbuild runs
        while not done.is_set():
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                with contextlib.suppress(OSError):  # a process that ended meanwhile
                    seen.append(cmdline.read_bytes().decode(errors="replace"))
            done.wait(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        # -D: the most the log ever holds
        result = _run(rear_env, env, "-D", "publish", store_server.url("secrets"), *map(str, files),
                      conf=store_server.conf())  # fmt: skip
    finally:
        done.set()
        watcher.join()
    assert result.returncode == 0, result.stderr[-3000:]
    assert any("publish" in c for c in seen), "the watcher saw no rearbuild command line"
    header = base64.b64encode(f"{USER}:{SECRET}".encode()).decode()  # the Authorization header's value
    written = _everything_written(rear_env, result)
    for secret in (SECRET, header):
        assert secret not in written
        assert not [c for c in seen if secret in c]
