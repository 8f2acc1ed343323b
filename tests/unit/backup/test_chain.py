"""BACKUP_TYPE=incremental|differential: which archive a backup writes and which a restore reads (ReaR's names)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from rearbuild.backup.chain import BackupType, ChainSettings, Level, plan_backup, restore_chain
from rearbuild.errors import UserError

SUFFIX = ".tar.gz"
MONDAY = datetime.datetime(2026, 11, 30, 6, 16, 42)  # a Monday
INCREMENTAL = ChainSettings(BackupType.INCREMENTAL)
DIFFERENTIAL = ChainSettings(BackupType.DIFFERENTIAL)


def _made(directory: Path, *names: str) -> None:
    """Archives as complete runs leave them: each with its snapshot file."""
    for name in names:
        (directory / name).write_bytes(b"archive")
        (directory / (name + ".snar")).write_bytes(b"snapshot")


def test_first_backup_is_full_with_reaRs_name(tmp_path: Path) -> None:
    plan = plan_backup(tmp_path, SUFFIX, INCREMENTAL, MONDAY)
    assert plan.archive.path.name == "2026-11-30-0616-F.tar.gz" and plan.base is None


def test_incremental_continues_the_latest_incremental(tmp_path: Path) -> None:
    _made(tmp_path, "2026-11-28-0100-F.tar.gz", "2026-11-29-0100-I.tar.gz")
    plan = plan_backup(tmp_path, SUFFIX, INCREMENTAL, MONDAY)
    assert plan.archive.path.name == "2026-11-30-0616-I.tar.gz"
    assert plan.base is not None and plan.base.path.name == "2026-11-29-0100-I.tar.gz"


def test_differential_continues_the_full_backup(tmp_path: Path) -> None:
    _made(tmp_path, "2026-11-28-0100-F.tar.gz", "2026-11-29-0100-D.tar.gz")
    plan = plan_backup(tmp_path, SUFFIX, DIFFERENTIAL, MONDAY)
    assert plan.archive.level is Level.DIFFERENTIAL
    assert plan.base is not None and plan.base.path.name == "2026-11-28-0100-F.tar.gz"


def test_fullbackupday_and_an_outdated_full_backup_start_a_new_chain(tmp_path: Path) -> None:
    _made(tmp_path, "2026-11-28-0100-F.tar.gz")
    on_monday = ChainSettings(BackupType.INCREMENTAL, full_days=("Sun", "Mon"))
    assert plan_backup(tmp_path, SUFFIX, on_monday, MONDAY).base is None
    outdated = ChainSettings(BackupType.INCREMENTAL, outdated_days=1)
    assert plan_backup(tmp_path, SUFFIX, outdated, MONDAY).base is None
    assert plan_backup(tmp_path, SUFFIX, INCREMENTAL, MONDAY).base is not None


def test_a_second_backup_in_the_same_minute_sorts_after_the_first(tmp_path: Path) -> None:
    _made(tmp_path, "2026-11-30-0616-F.tar.gz")
    plan = plan_backup(tmp_path, SUFFIX, INCREMENTAL, MONDAY)
    assert plan.archive.path.name == "2026-11-30-0617-I.tar.gz"


def test_restore_reads_full_then_increments_or_the_latest_differential(tmp_path: Path) -> None:
    _made(
        tmp_path,
        "2026-11-20-0100-F.tar.gz",
        "2026-11-21-0100-I.tar.gz",  # belongs to the older chain
        "2026-11-27-0100-F.tar.gz",
        "2026-11-28-0100-I.tar.gz",
        "2026-11-28-0200-D.tar.gz",
        "2026-11-29-0100-I.tar.gz",
        "2026-11-29-0200-D.tar.gz",
    )
    names = [a.path.name for a in restore_chain(tmp_path, SUFFIX, BackupType.INCREMENTAL)]
    assert names == ["2026-11-27-0100-F.tar.gz", "2026-11-28-0100-I.tar.gz", "2026-11-29-0100-I.tar.gz"]
    names = [a.path.name for a in restore_chain(tmp_path, SUFFIX, BackupType.DIFFERENTIAL)]
    assert names == ["2026-11-27-0100-F.tar.gz", "2026-11-29-0200-D.tar.gz"]
    assert restore_chain(tmp_path / "none", SUFFIX, BackupType.INCREMENTAL) == ()


def test_wrong_settings_are_one_line_errors() -> None:
    with pytest.raises(UserError, match="not a backup type"):
        BackupType.parse("incremantal")
    with pytest.raises(UserError, match="Monday is not a weekday"):
        ChainSettings(BackupType.INCREMENTAL, full_days=("Monday",))
