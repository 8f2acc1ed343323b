"""The records of what is mounted or activated: fs, the btrfs subvolume records, and swap."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation

from rearbuild.layout.model import (
    BtrfsMountedSubvol,
    BtrfsNoCopyOnWrite,
    BtrfsSubvol,
    BtrfsSubvolKind,
    Fs,
    FsType,
    Keyword,
    ReservedBlocks,
    Swap,
)
from rearbuild.layout.spec.base import Edge, Group, Neighbours, RecordSpec
from rearbuild.layout.spec.fields import FieldError, Opt, Options, format_opts, int_opt, opt, positional, to_int

# ---------------------------------------------------------------------------------------------------------
# Mount nesting


def _is_below(parent: str, mountpoint: str) -> bool:
    """Whether `parent` is a proper ancestor directory of `mountpoint` (/home is not below /ho)."""
    if parent == mountpoint:
        return False
    return parent == "/" or mountpoint.startswith(parent.rstrip("/") + "/")


def _mount_edges(name: str, record: Fs | BtrfsMountedSubvol, around: Neighbours) -> Iterator[Edge]:
    yield name, record.device
    for other in around.mounts:
        if other.name == name:
            continue
        # Nested mounts come after the file systems they are mounted on; a mounted btrfs
        # subvolume also needs the btrfs file system mounted at the same place.
        same_place = (
            other.mountpoint == record.mountpoint
            and other.keyword is Keyword.FS
            and record.keyword is Keyword.BTRFSMOUNTEDSUBVOL
        )
        if _is_below(other.mountpoint, record.mountpoint) or same_place:
            yield name, other.name


# ---------------------------------------------------------------------------------------------------------
# fs

# A reserved_blocks amount: ASCII digits with an optional fraction (`5%`, `1.00%`, `131072`).
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")


def _reserved(value: str, key: str) -> ReservedBlocks:
    percent = value.endswith("%")
    number = value.removesuffix("%")
    try:
        # Decimal() also reads NaN, Infinity, exponents and non-ASCII digits: only plain decimals are amounts.
        if _DECIMAL.fullmatch(number) is None:
            raise InvalidOperation
        amount = Decimal(number)
    except InvalidOperation:
        raise FieldError(f"reserved_blocks {value!r} is neither a percentage nor a block count") from None
    return ReservedBlocks(amount, percent)


def _days(value: str, key: str) -> int:
    return to_int(value.removesuffix("d"), key)


_FS_OPTS = (
    opt("uuid"),
    opt("label"),
    int_opt("blocksize"),
    Opt("reserved_blocks", "reserved_blocks", _reserved),
    int_opt("max_mounts"),
    Opt("check_interval", "check_interval_days", _days, lambda days: f"{days}d"),
    int_opt("bytes_per_inode"),
    opt("default_mount_options"),
    int_opt("nodesize"),
    int_opt("sectorsize"),
    opt("features"),
    opt("options"),
)


def _parse_fs(w: list[str]) -> Fs:
    positional(w, 3, None, "fs")
    try:
        fstype = FsType(w[2])
    except ValueError:
        names = ", ".join(t.value for t in FsType)
        raise FieldError(f"file system type {w[2]!r} cannot be recreated (supported: {names})") from None
    opts = Options(w[3:])
    return Fs(device=w[0], mountpoint=w[1], fstype=fstype, **opts.take_all(_FS_OPTS), extra=opts.rest())


FS = RecordSpec[Fs](
    Keyword.FS,
    parse=_parse_fs,
    write=lambda r: ["fs", r.device, r.mountpoint, r.fstype.value, *format_opts(r, _FS_OPTS, r.extra)],
    comments=(
        "# Filesystems (only ext2,ext3,ext4,vfat,xfs,reiserfs,btrfs are supported).",
        "# Format: fs <device> <mountpoint> <fstype> [uuid=<uuid>] [label=<label>] [<attributes>]",
    ),
    generated=("# Filesystems (",),
    component=lambda r: f"fs:{r.mountpoint}",
    edges=_mount_edges,
    mountpoint=lambda r: r.mountpoint,
    user=True,
)

# ---------------------------------------------------------------------------------------------------------
# btrfsdefaultsubvol, btrfsnormalsubvol, btrfssnapshotsubvol: created with their file system

_SUBVOL_TITLES = {
    BtrfsSubvolKind.DEFAULT: "default subvolume",
    BtrfsSubvolKind.NORMAL: "normal subvolumes",
    BtrfsSubvolKind.SNAPSHOT: "snapshot subvolumes",
}


def _subvol_group(record: BtrfsSubvol) -> Group:
    word = record.kind.value.value
    return (word, record.device, record.mountpoint), (
        f"# Btrfs {_SUBVOL_TITLES[record.kind]} for {record.device} at {record.mountpoint}",
        f"# Format: {word} <device> <mountpoint> <btrfs_subvolume_ID> <btrfs_subvolume_path>",
    )


def _subvol_spec(kind: BtrfsSubvolKind) -> RecordSpec[BtrfsSubvol]:
    word = kind.value.value

    def parse(w: list[str]) -> BtrfsSubvol:
        positional(w, 4, 4, word)
        return BtrfsSubvol(kind, w[0], w[1], to_int(w[2], "subvolume ID"), w[3])

    return RecordSpec[BtrfsSubvol](
        kind.value,
        parse=parse,
        write=lambda r: [word, r.device, r.mountpoint, str(r.subvol_id), r.path],
        grouping=_subvol_group,
        generated=(f"# Btrfs {_SUBVOL_TITLES[kind]}",),
        # The subvolume lists are created with their file system and go with it.
        created_with=lambda r: f"fs:{r.mountpoint}",
    )


BTRFS_SUBVOLS = tuple(_subvol_spec(kind) for kind in BtrfsSubvolKind)

# ---------------------------------------------------------------------------------------------------------
# btrfsmountedsubvol


def _parse_mountedsubvol(w: list[str]) -> BtrfsMountedSubvol:
    positional(w, 4, 4, "btrfsmountedsubvol")
    return BtrfsMountedSubvol(device=w[0], mountpoint=w[1], options=w[2], path=w[3])


BTRFSMOUNTEDSUBVOL = RecordSpec[BtrfsMountedSubvol](
    Keyword.BTRFSMOUNTEDSUBVOL,
    parse=_parse_mountedsubvol,
    write=lambda r: ["btrfsmountedsubvol", r.device, r.mountpoint, r.options, r.path],
    comments=(
        "# All mounted btrfs subvolumes (including mounted btrfs default subvolumes "
        "and mounted btrfs snapshot subvolumes).",
        "# Format: btrfsmountedsubvol <device> <subvolume_mountpoint> <mount_options> <btrfs_subvolume_path>",
    ),
    generated=("# All mounted btrfs subvolumes",),
    component=lambda r: f"btrfsmountedsubvol:{r.mountpoint}",
    edges=_mount_edges,
    mountpoint=lambda r: r.mountpoint,
    user=True,
)

# ---------------------------------------------------------------------------------------------------------
# btrfsnocopyonwrite


def _parse_nocow(w: list[str]) -> BtrfsNoCopyOnWrite:
    positional(w, 1, 1, "btrfsnocopyonwrite")
    return BtrfsNoCopyOnWrite(w[0])


BTRFSNOCOPYONWRITE = RecordSpec[BtrfsNoCopyOnWrite](
    Keyword.BTRFSNOCOPYONWRITE,
    parse=_parse_nocow,
    write=lambda r: ["btrfsnocopyonwrite", r.path],
    comments=(
        "# Btrfs subvolumes or directories with the no-copy-on-write attribute",
        "# Format: btrfsnocopyonwrite <btrfs_subvolume_path>",
    ),
    generated=("# Btrfs subvolumes or directories with the no",),
)

# ---------------------------------------------------------------------------------------------------------
# swap

_SWAP_OPTS = (opt("uuid"), opt("label"))


def _parse_swap(w: list[str]) -> Swap:
    positional(w, 1, None, "swap")
    opts = Options(w[1:])
    return Swap(device=w[0], **opts.take_all(_SWAP_OPTS), extra=opts.rest())


SWAP = RecordSpec[Swap](
    Keyword.SWAP,
    parse=_parse_swap,
    write=lambda r: ["swap", r.device, *format_opts(r, _SWAP_OPTS, r.extra)],
    comments=(
        "# Swap partitions or swap files",
        "# Format: swap <filename> uuid=<uuid> label=<label>",
    ),
    generated=("# Swap partitions or swap files",),
    component=lambda r: f"swap:{r.device}",
    edges=lambda name, r, around: [(name, r.device)],
    user=True,
)
