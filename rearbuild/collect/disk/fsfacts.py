"""File system attributes that recreation needs, as tune2fs, btrfs and xfs_info report them."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from rearbuild.layout.model import ReservedBlocks

log = logging.getLogger("rearbuild.collect.disk.fsfacts")

# check_interval is in seconds in tune2fs -l; ReaR writes days (tune2fs(8) -i takes "Nd").
_DAY_S = 86400


def tune2fs_argv(device: str) -> tuple[str, ...]:
    return ("tune2fs", "-l", device)


def xfs_info_argv(target: str) -> tuple[str, ...]:
    return ("xfs_info", target)


def btrfs_list_argv(target: str) -> tuple[str, ...]:
    # -a: paths relative to the top level (<FS_TREE>/...); -p: parent ids; -q: parent UUIDs, which only
    # snapshots have (btrfs-subvolume(8)).
    return ("btrfs", "subvolume", "list", "-a", "-p", "-q", target)


def btrfs_default_argv(target: str) -> tuple[str, ...]:
    return ("btrfs", "subvolume", "get-default", target)


def btrfs_super_argv(device: str) -> tuple[str, ...]:
    return ("btrfs", "inspect-internal", "dump-super", device)


@dataclass(frozen=True)
class ExtAttributes:
    blocksize: int | None
    reserved_blocks: ReservedBlocks | None
    max_mounts: int | None
    check_interval_days: int | None
    bytes_per_inode: int | None
    default_mount_options: str | None


def parse_tune2fs(text: str) -> ExtAttributes:
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            values[key.strip()] = value.strip()

    def number(key: str) -> int | None:
        m = re.match(r"-?\d+", values.get(key, ""))
        return int(m.group(0)) if m else None

    blocksize, blocks = number("Block size"), number("Block count")
    reserved, inodes = number("Reserved block count"), number("Inode count")
    interval = number("Check interval")
    percent: ReservedBlocks | None = None
    if reserved is not None and blocks:
        # mke2fs -m takes a (fractional) percentage; two decimals reproduce the count mkfs derived from it.
        amount = (Decimal(reserved) * 100 / Decimal(blocks)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        percent = ReservedBlocks(amount.normalize() if amount % 1 else amount.to_integral_value(), True)
    options = values.get("Default mount options", "")
    return ExtAttributes(
        blocksize=blocksize,
        reserved_blocks=percent,
        max_mounts=number("Maximum mount count"),
        check_interval_days=None if interval is None else interval // _DAY_S,
        bytes_per_inode=blocks * blocksize // inodes if blocks and blocksize and inodes else None,
        default_mount_options=",".join(options.split()) if options and options != "(none)" else None,
    )


@dataclass(frozen=True)
class BtrfsSubvolume:
    id: int
    parent: int
    path: str
    snapshot: bool


_TOP = "<FS_TREE>/"


def parse_btrfs_list(text: str) -> tuple[BtrfsSubvolume, ...]:
    subvols: list[BtrfsSubvolume] = []
    for line in text.splitlines():
        m = re.match(r"ID (\d+) .*?parent (\d+) .*? path (.*)$", line)
        if m is None:
            continue
        parent_uuid = re.search(r"parent_uuid (\S+)", line)
        path = m.group(3).removeprefix(_TOP)
        subvols.append(
            BtrfsSubvolume(
                int(m.group(1)), int(m.group(2)), path, parent_uuid is not None and parent_uuid.group(1) != "-"
            )
        )
    return tuple(subvols)


# The top level of every btrfs (btrfs(5): BTRFS_FS_TREE_OBJECTID).
TOP_LEVEL_ID = 5


def parse_btrfs_default(text: str) -> tuple[int, str] | None:
    """`ID 256 gen 9 top level 5 path @`, or `ID 5 (FS_TREE)` when the top level is the default."""
    m = re.match(r"ID (\d+)(?: .*? path (.*))?", text.strip())
    if m is None:
        return None
    return int(m.group(1)), (m.group(2) or "/").removeprefix(_TOP)


@dataclass(frozen=True)
class BtrfsSuper:
    nodesize: int | None
    sectorsize: int | None


def parse_btrfs_super(text: str) -> BtrfsSuper:
    def number(key: str) -> int | None:
        m = re.search(rf"^{key}\s+(\d+)", text, re.M)
        return int(m.group(1)) if m else None

    return BtrfsSuper(number("nodesize"), number("sectorsize"))
