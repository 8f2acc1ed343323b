"""Configuration files that start background jobs (rearbuild.config.bashstate, rearbuild.recipe): a run must
not wait for them."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import RearEnv

pytestmark = pytest.mark.slow

Run = Callable[..., tuple[int, str, str]]

# Python's streams under a UTF-8 locale other than C.UTF-8 (en_US.UTF-8, ...): stdout refuses undecodable bytes.
UTF8_LOCALE = {**os.environ, "PYTHONIOENCODING": "utf-8"}

NOBODY = 65534  # uid and gid of nobody (Debian base-passwd)

SLEEP = 20  # seconds the background job lives; the run must end long before


@pytest.fixture
def pidfile(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "bg.pid"
    yield path
    if path.exists():  # the job outlives the run by design; do not leave it behind the test
        for word in path.read_text().split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(word), signal.SIGTERM)


def test_a_background_job_in_local_conf_does_not_block_the_run(
    rear_env: RearEnv, rearbuild: Run, pidfile: Path
) -> None:
    rear_env.write("etc/local.conf", f"OUTPUT=USB\nsleep {SLEEP} &\necho $! >> {pidfile}\n")
    started = time.monotonic()
    status, out, err = rearbuild("dump")
    assert status == 0, err
    assert "OUTPUT='USB'" in out
    assert time.monotonic() - started < SLEEP / 4
    assert pidfile.read_text().strip()


def test_a_background_job_in_a_shell_recipe_does_not_block_the_run(
    rear_env: RearEnv, rearbuild: Run, pidfile: Path
) -> None:
    rear_env.write("etc/recipes/layout/save/100_bg.sh", f"sleep {SLEEP} &\necho $! >> {pidfile}\n")
    rear_env.write("etc/local.conf", "BACKUP=NETFS\n")
    started = time.monotonic()
    status, _, err = rearbuild("savelayout")
    assert status == 0, err
    assert time.monotonic() - started < SLEEP / 2
    assert pidfile.read_text().strip()


def test_binary_garbage_gives_the_error_line_and_no_traceback(rear_env: RearEnv) -> None:
    local = rear_env.config_dir / "local.conf"
    local.write_bytes(b"OUTPUT=ISO\n\xb7\xfd2Q]\xfd;X\xf5q\x9b\xcfy\x1b[2J )\x00\xff\n")
    done = subprocess.run(rear_env.command("dump"), capture_output=True, timeout=60, env=UTF8_LOCALE)
    err = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 1 and done.stdout == b""
    assert f"ERROR: error in configuration: {local}: line 2" in err
    assert "Traceback" not in err and "Logging error" not in err
    assert "\x1b" not in err and "\\x1b[2J" in err  # no escape sequence reaches the terminal
    assert f"{local}: line 2" in next(rear_env.log_dir.iterdir()).read_text()


def test_non_utf8_values_are_dumped_as_the_bytes_bash_holds(rear_env: RearEnv) -> None:
    rear_env.write("etc/local.conf", "OUTPUT_URL=$(printf 'file:///srv/\\377')\n")
    done = subprocess.run(rear_env.command("-d", "dump"), capture_output=True, timeout=60, env=UTF8_LOCALE)
    assert done.returncode == 0, done.stderr
    assert b"OUTPUT_URL='file:///srv/\xff'" in done.stdout
    assert b"Traceback" not in done.stderr and b"Logging error" not in done.stderr


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to run as another user")
def test_a_config_dir_the_user_cannot_read_is_refused() -> None:
    # Run for real as an unprivileged user (nobody) against root's 0700 configuration directory.
    root = Path(tempfile.mkdtemp(prefix="rearbuild-unreadable."))
    try:
        root.chmod(0o755)
        etc = root / "etc"
        etc.mkdir(mode=0o700)
        (etc / "local.conf").write_text("OUTPUT=USB\n")
        for name in ("var", "log", "tmp"):
            (root / name).mkdir()
            os.chown(root / name, NOBODY, NOBODY)
        as_nobody = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        argv = [sys.executable, "-m", "rearbuild", "-c", str(etc), "--var-dir", str(root / "var")]
        argv += ["--log-dir", str(root / "log"), "--tmpdir", str(root / "tmp"), "dump"]
        done = subprocess.run(as_nobody + argv, capture_output=True, text=True, timeout=60, cwd=root)
        assert done.returncode == 1 and done.stdout == ""
        assert f"cannot read the configuration directory {etc}: permission denied" in done.stderr
    finally:
        shutil.rmtree(root)
