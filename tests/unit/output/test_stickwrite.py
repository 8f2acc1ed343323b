"""Writing a stick (rearbuild.output.stickwrite): confirmation rules, the description of what is destroyed, and
the refusal of a disk that is neither removable nor USB."""

from __future__ import annotations

from pathlib import Path

import pytest

from rearbuild.errors import UserError
from rearbuild.output import stickwrite


def _target(**kw: object) -> stickwrite.TargetDevice:
    values: dict[str, object] = dict(path=Path("/dev/sdz"), model="ACME Stick", size=8_000_000_000, removable=True,
                                     transport="usb", mountpoints=(),
                                     partitions=(stickwrite.BlockPart("/dev/sdz1", 500_000_000, "PHOTOS", "vfat"),))
    values.update(kw)
    return stickwrite.TargetDevice(**values)  # type: ignore[arg-type]


def test_description_names_model_size_partitions_and_labels() -> None:
    text = _target().describe()
    assert "ACME Stick" in text and "8.0 GB" in text and "/dev/sdz1" in text and "PHOTOS" in text and "vfat" in text


def test_without_terminal_only_yes_goes_on() -> None:
    with pytest.raises(UserError, match="add --yes"):
        stickwrite.confirm("Erase?", assume_yes=False)
    stickwrite.confirm("Erase?", assume_yes=True)


def test_fixed_disk_needs_force(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stickwrite, "system_disks", lambda: set())
    fixed = _target(removable=False, transport="sata")
    with pytest.raises(UserError, match="neither removable nor a USB disk"):
        stickwrite.check_target(fixed, force=False)
    stickwrite.check_target(fixed, force=True)


def test_mounted_is_refused_even_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stickwrite, "system_disks", lambda: set())
    with pytest.raises(UserError, match="is mounted on /media/x"):
        stickwrite.check_target(_target(mountpoints=("/media/x",)), force=True)


def test_progress_shows_bytes_rate_and_eta_on_a_terminal_only() -> None:
    import io

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    shown = Terminal()
    stickwrite.Progress(8 * 2**20, shown).update(2 * 2**20, final=True)
    line = shown.getvalue()
    assert "2.0 MiB of 8.0 MiB (25%)" in line and "/s" in line and "ETA " in line
    quiet = io.StringIO()
    stickwrite.Progress(100, quiet).update(50, final=True)
    assert quiet.getvalue() == ""
