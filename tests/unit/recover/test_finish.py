"""The unattended end of a recovery: UNATTENDED_FINISH read strictly, and what reaches SysRq."""

from __future__ import annotations

from pathlib import Path

import pytest

from rearbuild.errors import UserError
from rearbuild.recover.finish import Finish


@pytest.mark.parametrize(
    ("word", "finish"),
    [("reboot", Finish.REBOOT), ("PowerOff", Finish.POWEROFF), ("shell", Finish.SHELL), ("", Finish.SHELL),
     ("none", Finish.SHELL)],
)  # fmt: skip
def test_unattended_finish_words(word: str, finish: Finish) -> None:
    assert Finish.parse(word) is finish


def test_a_typo_is_an_error_naming_the_choices() -> None:
    with pytest.raises(UserError, match="reboot, poweroff, shell"):
        Finish.parse("rebot")


@pytest.mark.parametrize(("finish", "written"), [(Finish.REBOOT, "sb"), (Finish.POWEROFF, "so")])
def test_sysrq_syncs_then_acts(tmp_path: Path, finish: Finish, written: str) -> None:
    trigger = tmp_path / "sysrq-trigger"
    # target below tmp_path is not a mount point: umount -R fails quietly, as when nothing is mounted
    finish.perform(tmp_path / "not-mounted", trigger)
    assert trigger.read_text() == written


def test_shell_touches_nothing(tmp_path: Path) -> None:
    trigger = tmp_path / "sysrq-trigger"
    Finish.SHELL.perform(tmp_path, trigger)
    assert not trigger.exists()
