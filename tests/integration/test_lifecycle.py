"""The lifecycle of a run (rearbuild.cli, rearbuild.lock): the build area removed after success and Ctrl-C
(a real process and a real signal) or kept with -d, and one run at a time."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable

import pytest

from rearbuild.lock import RunLock
from tests.conftest import RearEnv

pytestmark = pytest.mark.slow

Run = Callable[..., tuple[int, str, str]]


def test_build_dir_removed_after_success_and_kept_with_debug(rear_env: RearEnv, rearbuild: Run) -> None:
    rear_env.write("share/recipes/layout/save/default/100_ok.py", "def main(ctx):\n    pass\n")
    assert rearbuild("savelayout")[0] == 0
    assert rear_env.build_dirs() == []
    status, _, err = rearbuild("-d", "savelayout")
    assert status == 0
    kept = rear_env.build_dirs()
    assert len(kept) == 1 and f"build area kept: {kept[0]}" in err
    rear_env.write("etc/local.conf", "KEEP_BUILD_DIR=errors\n")
    for d in kept:
        d.rename(rear_env.root / d.name)
    assert rearbuild("savelayout")[0] == 0
    assert rear_env.build_dirs() == []  # "errors" keeps only failed runs


def test_build_dir_removed_after_sigint(rear_env: RearEnv) -> None:
    rear_env.write(
        "share/recipes/layout/save/default/100_slow.py",
        "import time\n\ndef main(ctx):\n    (ctx.build_dir / 'started').write_text('x')\n    time.sleep(60)\n",
    )
    proc = subprocess.Popen(rear_env.command("savelayout"), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not any((d / "started").exists() for d in rear_env.build_dirs()):
        assert time.monotonic() < deadline, "the recipe never started"
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.05)
    assert len(rear_env.build_dirs()) == 1
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "aborted" in err
    assert rear_env.build_dirs() == []


def test_second_run_is_refused_while_the_lock_is_held(rear_env: RearEnv, rearbuild: Run) -> None:
    rear_env.write("share/recipes/layout/save/default/100_ok.py", "def main(ctx):\n    pass\n")
    with RunLock(rear_env.var_dir / "lock" / "rearbuild.lock", "mkbackup"):
        status, _, err = rearbuild("savelayout")
        assert status == 1
        assert "another rearbuild run is in progress" in err and "workflow mkbackup" in err
        # dump is lockless: it still works while a run goes on
        assert rearbuild("dump")[0] == 0
    assert rearbuild("savelayout")[0] == 0
