"""The command line (rearbuild.cli): --version, and an internal error reported as a bug with the log."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from tests.conftest import RearEnv

Run = Callable[..., tuple[int, str, str]]


def test_internal_error_is_reported_as_a_bug_with_the_log(rear_env: RearEnv, rearbuild: Run) -> None:
    rear_env.write("share/recipes/layout/save/default/100_bug.py", "def main(ctx):\n    return 1 / 0\n")
    status, _, err = rearbuild("savelayout")
    assert status == 2
    assert "BUG in rearbuild: ZeroDivisionError" in err and str(rear_env.log_dir) in err


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version(rearbuild: Run, flag: str) -> None:
    status, out, _ = rearbuild(flag)
    assert status == 0 and out.startswith("rearbuild ")


def test_an_error_quoting_a_huge_value_stays_short(rear_env: RearEnv, rearbuild: Run) -> None:
    rear_env.write("etc/local.conf", "ISO_VOLID=$(head -c 5000000 /dev/zero | tr '\\0' a)\n")
    rear_env.write(
        "share/recipes/layout/save/default/100_check.py",
        "from rearbuild.errors import UserError\n\n"
        "def main(ctx):\n"
        "    raise UserError(f'ISO volume id {ctx.text(\"ISO_VOLID\")!r} is too long', hint='at most 32 characters')\n",
    )
    status, _, err = rearbuild("savelayout")
    assert status == 1
    first, hint = err.splitlines()[-2:]
    assert first.startswith("ERROR: ISO volume id 'aaa") and first.endswith("more characters)") and len(first) < 1100
    assert hint == "ERROR: hint: at most 32 characters"


def test_runs_that_may_go_on_at_once_keep_separate_logs(rear_env: RearEnv, rearbuild: Run) -> None:
    """mkbackuponly and restoreonly may run beside each other (ReaR's SIMULTANEOUS_RUNNABLE_WORKFLOWS): each
    writes rear-HOST.PID.log, as ReaR does, instead of moving the other's log away under its feet."""
    rear_env.write("etc/local.conf", "BACKUP=NETFS\nBACKUP_URL=file:///nonexistent-backup-location\n")
    rearbuild("restoreonly", "--demo", str(rear_env.root / "demo"))
    assert [p.name for p in rear_env.log_dir.iterdir() if p.name.endswith(f".{os.getpid()}.log")]
    assert not [p for p in rear_env.log_dir.iterdir() if p.name.endswith(".log.old")]


def test_help_variable_shows_its_meaning_and_default(rearbuild: Run) -> None:
    status, out, _ = rearbuild("help", "ISO_VOLID")
    assert status == 0
    assert out.startswith("ISO_VOLID=RELAXRECOVER ") and "Volume id of the ISO" in out
    status, out, _ = rearbuild("help", "mountonly")
    assert status == 0 and "usage: rearbuild mountonly" in out and "--plan" in out
    status, _, err = rearbuild("help", "OUTPT_URL")
    assert status == 1 and "no variable or workflow named 'OUTPT_URL'" in err and "did you mean OUTPUT_URL" in err
