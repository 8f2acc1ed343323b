"""PRE_/POST_RECOVERY_SCRIPT and _COMMANDS (ReaR's recovery hooks) run with bash in the rescue system, in ReaR's
order, with TARGET_FS_ROOT; a failing one stops the recovery with its name; a demo recovery on a live host
runs none."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from rearbuild.errors import UserError
from rearbuild.recover.hooks import hooks_after, hooks_before, run_hooks
from tests.conftest import RearEnv

pytestmark = pytest.mark.slow


def test_hooks_run_in_rears_order_with_target_fs_root(tmp_path: Path) -> None:
    trail = tmp_path / "trail"
    before = hooks_before([f"echo commands-0 >> {trail}", f"echo commands-1 >> {trail}"],
                          ["echo", "script", "$TARGET_FS_ROOT", ">>", str(trail)])  # fmt: skip
    after = hooks_after([f"echo post-script >> {trail}"], [f"echo post-commands >> {trail}"])
    run_hooks((*before, *after), target_root=Path("/mnt/local"))
    assert trail.read_text().splitlines() == [
        "commands-0", "commands-1", "script /mnt/local", "post-script", "post-commands",
    ]  # fmt: skip


def test_a_failing_hook_stops_with_its_name_and_output(tmp_path: Path) -> None:
    later = tmp_path / "later"
    hooks = hooks_before(["echo 'disk not found' >&2; exit 3", f"touch {later}"], [])
    with pytest.raises(UserError) as raised:
        run_hooks(hooks, target_root=tmp_path)
    assert raised.value.message == "PRE_RECOVERY_COMMANDS[0] failed with status 3: disk not found"
    assert not later.exists()


def _recover(env: RearEnv, local_conf: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`rearbuild -n recover` as in the rescue system (its marker file faked); REQUESTRESTORE stops it in verify,
    after the setup stage, without touching a disk."""
    env.write("etc/local.conf", "BACKUP=REQUESTRESTORE\n" + local_conf)
    marker = env.write("rear-release", "rescue\n")
    rescue = dict(os.environ, REARBUILD_RESCUE_MARKER=str(marker))
    return subprocess.run(env.command("-n", *args), capture_output=True, text=True, timeout=120, env=rescue,
                          stdin=subprocess.DEVNULL)  # fmt: skip


def test_pre_recovery_script_runs_first_in_the_rescue_system(env: RearEnv) -> None:
    done = env.root / "pre-ran"
    result = _recover(env, f"PRE_RECOVERY_SCRIPT=( echo '$TARGET_FS_ROOT' '>' {done} )\n", "recover")
    assert done.read_text() == "/mnt/local\n"
    assert "running PRE_RECOVERY_SCRIPT" in result.stderr + result.stdout


def test_a_failing_pre_recovery_script_stops_before_verify(env: RearEnv) -> None:
    result = _recover(env, "PRE_RECOVERY_SCRIPT='exit 7'\n", "recover")
    assert result.returncode == 1
    assert "PRE_RECOVERY_SCRIPT failed with status 7" in result.stderr
    assert "operator" not in result.stderr  # verify never ran


def test_a_demo_recovery_runs_no_hook(env: RearEnv) -> None:
    done = env.root / "pre-ran"
    result = _recover(env, f"PRE_RECOVERY_COMMANDS=( 'touch {done}' )\n", "restoreonly", "--demo",
                      str(env.root / "demo"))  # fmt: skip
    assert not done.exists()
    assert "PRE_RECOVERY_COMMANDS[0] is not run" in result.stdout + result.stderr
