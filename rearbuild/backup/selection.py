"""What a backup contains: the mount tree of the saved layout (every local file system, and mounted btrfs
subvolumes, each archived with --one-file-system) plus BACKUP_PROG_INCLUDE, minus the exclusions.

ReaR takes the include list from the layout's mount points (backup/NETFS/default/400_create_include_exclude_files.sh)
and the mounted btrfs subvolumes since PR #3175 (issue #2928: they were missing from backups). A file system
excluded from the layout (`#fs ...`) is excluded from the backup too.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from rearbuild.errors import UserError
from rearbuild.layout.model import BtrfsMountedSubvol, Fs, Layout

log = logging.getLogger("rearbuild.backup")


@dataclass(frozen=True)
class Selection:
    includes: tuple[str, ...]
    excludes: tuple[str, ...]
    # Includes that do not exist (reported, left out: tar would only warn).
    missing: tuple[str, ...] = ()

    def exclude_text(self) -> str:
        return "".join(f"{p}\n" for p in self.excludes)


def layout_mountpoints(layout: Layout) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(mount points to back up, mount points excluded from the layout), each in file order."""
    included: list[str] = []
    excluded: list[str] = []
    for entry in layout.entries:
        record = entry.record
        if isinstance(record, Fs | BtrfsMountedSubvol) and record.mountpoint.startswith("/"):
            (excluded if entry.excluded else included).append(record.mountpoint)
    return tuple(dict.fromkeys(included)), tuple(dict.fromkeys(m for m in excluded if m not in included))


def _below(path: str, parent: str) -> bool:
    return PurePosixPath(parent) in PurePosixPath(path).parents or path == parent


def _device(path: str) -> int | None:
    try:
        return os.stat(path).st_dev
    except OSError:
        return None


def select(
    layout: Layout | None,
    *,
    include: Sequence[str] = (),
    only_include: bool = False,
    exclude: Sequence[str] = (),
    extra_excludes: Sequence[str] = (),
    only_exclude: bool = False,
    exclude_mountpoints: Sequence[str] = (),
    never: Sequence[str] = (),
    device_of: Callable[[str], int | None] = _device,
) -> Selection:
    """The tar include and exclude lists.

    extra_excludes: what rearbuild itself leaves out (the backup location), dropped with BACKUP_ONLY_EXCLUDE as
    ReaR does. never: rearbuild's own files (its caches, build areas, outputs), left out of every backup -- a
    recovery restores them stale, and they can be large (ReaR excludes its own too). device_of tells the file
    system of a path (None: it does not exist).
    """
    mounted: tuple[str, ...] = ()
    layout_excluded: tuple[str, ...] = ()
    if layout is not None:
        mounted, layout_excluded = layout_mountpoints(layout)
    # EXCLUDE_MOUNTPOINTS: the layout's file systems left out of the backup (ReaR's 400_create_include_exclude_files:
    # not included, and excluded as "$mountpoint/" unless BACKUP_ONLY_EXCLUDE).
    skipped = {os.path.normpath(m) for m in exclude_mountpoints if m}
    mounted = tuple(m for m in mounted if m not in skipped)
    candidates = [*([] if only_include else mounted), *include]
    includes: list[str] = []
    missing: list[str] = []
    devices: dict[str, int] = {}
    for path in dict.fromkeys(os.path.normpath(p) if p != "/" else p for p in candidates):
        device = device_of(path)
        if device is None:
            missing.append(path)
            continue
        # A path inside another include on the same file system is already archived with it: tar would store
        # it twice (and restore it twice).
        if any(_below(path, other) and devices[other] == device for other in includes):
            continue
        includes.append(path)
        devices[path] = device
    excludes = [*exclude, *(p for p in never if p)]
    if not only_exclude:
        excludes += [p for p in extra_excludes if p]
        excludes += [m for m in layout_excluded if m not in includes]
        excludes += [m for m in sorted(skipped) if m not in includes]
    return Selection(tuple(includes), tuple(dict.fromkeys(excludes)), tuple(missing))


def used_bytes(paths: Sequence[str]) -> int | None:
    """The used space of the file systems the includes are mount points of, for an ETA; None when an include is
    a directory inside a file system (its size is unknown without walking it)."""
    total = 0
    seen: set[int] = set()
    for path in paths:
        if not os.path.ismount(path):
            return None
        try:
            st = os.statvfs(path)
            device = os.stat(path).st_dev
        except OSError:
            return None
        if device in seen:
            continue
        seen.add(device)
        total += (st.f_blocks - st.f_bfree) * st.f_frsize
    return total


def backup_selection(
    layout: Layout | None,
    *,
    include: Sequence[str] = (),
    only_include: bool = False,
    exclude: Sequence[str] = (),
    extra_excludes: Sequence[str] = (),
    only_exclude: bool = False,
    exclude_mountpoints: Sequence[str] = (),
    never: Sequence[str] = (),
) -> Selection:
    """select() for a backup that is about to run (NETFS, BORG, RSYNC): a missing include is a warning, nothing
    to back up at all is a UserError before anything is written."""
    chosen = select(layout, include=include, only_include=only_include, exclude=exclude,
                    extra_excludes=extra_excludes, only_exclude=only_exclude,
                    exclude_mountpoints=exclude_mountpoints, never=never)  # fmt: skip
    for path in chosen.missing:
        log.warning("not backed up: %s does not exist", path)
    if not chosen.includes:
        raise UserError(
            "nothing to back up: no mounted file system of the layout and no existing BACKUP_PROG_INCLUDE path",
            hint="check BACKUP_PROG_INCLUDE and BACKUP_ONLY_INCLUDE, or run savelayout first",
        )
    return chosen
