"""The unattended end of a recovery: UNATTENDED_FINISH read strictly, and what reaches SysRq."""

from __future__ import annotations

from pathlib import Path

import pytest

from rearbuild.errors import UserError
from rearbuild.recover.finish import Finish, crypt_mappings


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


@pytest.mark.parametrize(("finish", "written"), [(Finish.REBOOT, "b"), (Finish.POWEROFF, "o")])
def test_the_stack_is_released_before_sysrq_acts(tmp_path: Path, finish: Finish, written: str) -> None:
    trigger = tmp_path / "sysrq-trigger"
    released: list[Path] = []

    def release(target: Path) -> None:
        assert not trigger.exists(), "released after the reboot was triggered"
        released.append(target)

    # The real release takes down every VG, mapping and array: never on the machine running the tests.
    finish.perform(tmp_path / "target", trigger, release=release)
    assert released == [tmp_path / "target"]
    # SysRq "s" only queues writeback and "b" does not wait for it: the release syncs, and "b"/"o" is alone.
    assert trigger.read_text() == written


def test_crypt_mappings_are_read_from_sysfs(tmp_path: Path) -> None:
    for dm, uuid, name in (("dm-0", "CRYPT-LUKS2-abc-root", "root"), ("dm-1", "LVM-xyz", "vg-lv")):
        (tmp_path / dm / "dm").mkdir(parents=True)
        (tmp_path / dm / "dm" / "uuid").write_text(uuid + "\n")
        (tmp_path / dm / "dm" / "name").write_text(name + "\n")
    assert crypt_mappings(tmp_path) == ["root"]


def test_shell_touches_nothing(tmp_path: Path) -> None:
    trigger = tmp_path / "sysrq-trigger"
    Finish.SHELL.perform(tmp_path, trigger)
    assert not trigger.exists()
