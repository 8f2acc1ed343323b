"""BACKUP_TYPE=incremental|differential: which archive a backup writes and which archives a restore reads
(ReaR 2.7 prep/NETFS/default/070_set_backup_archive.sh; its names, so either tool finds the other's chain).

    name      YYYY-MM-DD-HHMM-F<suffix> (full), -I (incremental), -D (differential), e.g. 2026-11-30-0616-I.tar.gz
    full      when BACKUP_TYPE is empty, no full backup exists yet, today is one of FULLBACKUPDAY, or the latest
              full backup is older than FULLBACKUP_OUTDATED_DAYS
    restore   incremental: the latest full backup, then every incremental after it in order;
              differential: the latest full backup, then the latest differential after it

ReaR selects the changed files with tar --newer=<day of the previous archive>, which misses deletions and
files moved in with an old mtime. rearbuild uses GNU tar's snapshot files instead (tar(1) --listed-incremental,
"Using tar to Perform Incremental Dumps" in the GNU tar manual): <archive>.snar beside each archive records what
the archive saw, the next level starts from a copy of its base's, and a restore extracts each archive with
--listed-incremental=/dev/null, which also deletes what was deleted between two backups.
"""

from __future__ import annotations

import datetime
import enum
import re
from dataclasses import dataclass
from pathlib import Path

from rearbuild.errors import UserError

SNAPSHOT_SUFFIX = ".snar"
# tar(1): "--listed-incremental=/dev/null" on extraction: incremental mode without reading or writing a snapshot.
RESTORE_OPTION = "--listed-incremental=/dev/null"
# `date +%a` in the C locale, what ReaR compares FULLBACKUPDAY with; datetime.weekday(): Monday is 0.
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class Level(enum.Enum):
    """One archive of a chain, by the marker in its name."""

    FULL = "F"
    INCREMENTAL = "I"
    DIFFERENTIAL = "D"


class BackupType(enum.Enum):
    """ReaR's BACKUP_TYPE."""

    FULL = ""
    INCREMENTAL = "incremental"
    DIFFERENTIAL = "differential"

    @classmethod
    def parse(cls, word: str) -> BackupType:
        text = word.strip()
        for member in cls:
            if member.value == text or (member is cls.FULL and text == "full"):
                return member
        raise UserError(
            f"BACKUP_TYPE={word!r} is not a backup type",
            hint="leave it empty for a full backup each time, or set incremental or differential",
        )

    @property
    def chained(self) -> bool:
        return self is not BackupType.FULL

    @property
    def level(self) -> Level:
        """The level of a backup that is not full."""
        return Level.DIFFERENTIAL if self is BackupType.DIFFERENTIAL else Level.INCREMENTAL


@dataclass(frozen=True)
class ChainSettings:
    kind: BackupType
    full_days: tuple[str, ...] = ()  # FULLBACKUPDAY
    outdated_days: int = 7  # FULLBACKUP_OUTDATED_DAYS (ReaR's default)

    def __post_init__(self) -> None:
        wrong = [d for d in self.full_days if d not in WEEKDAYS]
        if wrong:
            raise UserError(
                f"FULLBACKUPDAY=( {' '.join(self.full_days)} ): {', '.join(wrong)} is not a weekday",
                hint=f"use the names date +%a prints in the C locale: {' '.join(WEEKDAYS)}",
            )


@dataclass(frozen=True)
class Archive:
    path: Path
    level: Level

    @property
    def snapshot(self) -> Path:
        """The GNU tar snapshot file written with the archive."""
        return self.path.with_name(self.path.name + SNAPSHOT_SUFFIX)


@dataclass(frozen=True)
class Plan:
    """What one backup run writes: the archive and the snapshot it starts from (None: a full backup)."""

    archive: Archive
    base: Archive | None

    def describe(self) -> str:
        if self.base is None:
            return f"full backup {self.archive.path.name}"
        kind = "incremental" if self.archive.level is Level.INCREMENTAL else "differential"
        return f"{kind} backup {self.archive.path.name} (changes since {self.base.path.name})"


def _pattern(suffix: str) -> re.Pattern[str]:
    return re.compile(r"(\d{4}-\d{2}-\d{2})-(\d{4})-([FID])" + re.escape(suffix))


def archives(directory: Path, suffix: str) -> tuple[Archive, ...]:
    """The chain's archives in directory, oldest first (the names sort by time); those without a snapshot file
    were not written by a complete run and are left out."""
    if not directory.is_dir():
        return ()
    pattern = _pattern(suffix)
    found = []
    for path in sorted(directory.iterdir()):
        match = pattern.fullmatch(path.name)
        if match and path.is_file():
            found.append(Archive(path, Level(match.group(3))))
    return tuple(found)


def _after_latest_full(found: tuple[Archive, ...]) -> tuple[Archive, ...]:
    fulls = [i for i, a in enumerate(found) if a.level is Level.FULL]
    return found[fulls[-1] :] if fulls else ()


def _day(archive: Archive) -> datetime.date:
    return datetime.date.fromisoformat(archive.path.name[:10])


def _new_name(directory: Path, level: Level, suffix: str, now: datetime.datetime) -> Path:
    """ReaR's name for now; a second backup within the same minute takes the next free minute, so that the
    names still sort in the order the archives were made."""
    when = now.replace(second=0, microsecond=0)
    latest = archives(directory, suffix)
    if latest:
        last = datetime.datetime.strptime(latest[-1].path.name[:15], "%Y-%m-%d-%H%M")
        when = max(when, last + datetime.timedelta(minutes=1))
    return directory / f"{when:%Y-%m-%d-%H%M}-{level.value}{suffix}"


def plan_backup(directory: Path, suffix: str, chain: ChainSettings, now: datetime.datetime) -> Plan:
    """The archive this backup writes into directory, and the one whose snapshot it continues."""
    found = _after_latest_full(archives(directory, suffix))
    full_day = WEEKDAYS[now.weekday()] in chain.full_days
    oldest_base = now.date() - datetime.timedelta(days=chain.outdated_days)
    if not found or full_day or _day(found[0]) < oldest_base or not found[0].snapshot.is_file():
        return Plan(Archive(_new_name(directory, Level.FULL, suffix, now), Level.FULL), None)
    level = chain.kind.level
    base = found[0]
    if level is Level.INCREMENTAL:
        base = [a for a in found if a.level in (Level.FULL, Level.INCREMENTAL)][-1]
        if not base.snapshot.is_file():
            raise UserError(
                f"{base.path} has no snapshot file {base.snapshot.name}: an incremental cannot tell what changed",
                hint="remove the archives after the full backup that lack one, or set FULLBACKUPDAY for a new chain",
            )
    return Plan(Archive(_new_name(directory, level, suffix, now), level), base)


def restore_chain(directory: Path, suffix: str, kind: BackupType) -> tuple[Archive, ...]:
    """The archives a restore extracts, in order: empty when directory holds no full backup."""
    found = _after_latest_full(archives(directory, suffix))
    if not found:
        return ()
    if kind is BackupType.DIFFERENTIAL:
        differentials = [a for a in found if a.level is Level.DIFFERENTIAL]
        return (found[0], *differentials[-1:])
    return (found[0], *(a for a in found[1:] if a.level is Level.INCREMENTAL))
