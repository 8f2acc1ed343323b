"""Block devices, partition tables, mounts and swap as the tools report them (parsed, not yet a layout).

Sources: `lsblk --json --list` (the device tree, one row per parent/child edge), `blkid -o export`
(file system type, UUID and label straight from the superblocks), `sfdisk --json` (the partition table in
sectors), `findmnt --json --list --kernel` (the mount tree from /proc/self/mountinfo) and /proc/swaps.
Every parser takes the tool's text and returns frozen records; malformed output is logged and yields
nothing rather than an exception, because a capture must go on with what it does know.
"""

from __future__ import annotations

import enum
import json
import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("rearbuild.collect.disk.blockfacts")

LSBLK_COLUMNS = "NAME,KNAME,PKNAME,TYPE,FSTYPE,SIZE,UUID,LABEL,PARTUUID,MOUNTPOINT,LOG-SEC,RM"
LSBLK = ("lsblk", "--json", "--list", "--bytes", "--paths", "--output", LSBLK_COLUMNS)
# -c /dev/null: no cache file, probe every device now (blkid(8)); export: KEY=value blocks.
BLKID = ("blkid", "-c", "/dev/null", "-o", "export")
# --kernel reads /proc/self/mountinfo; --nofsroot keeps `[/@home]` out of SOURCE while FSROOT still
# carries the btrfs subvolume path (findmnt(8)).
FINDMNT = (
    "findmnt",
    "--json",
    "--list",
    "--kernel",
    "--bytes",
    "--output",
    "SOURCE,TARGET,FSTYPE,OPTIONS,FSROOT",
    "--nofsroot",
)
PROC_SWAPS = "/proc/swaps"


def sfdisk_argv(device: str) -> tuple[str, ...]:
    return ("sfdisk", "--json", device)


class DevKind(enum.Enum):
    """What lsblk's TYPE column says a device is (lsblk(8)); md arrays report their level there."""

    DISK = "disk"
    PART = "part"
    LVM = "lvm"
    CRYPT = "crypt"
    MD = "md"
    LOOP = "loop"
    ROM = "rom"
    MPATH = "mpath"
    OTHER = "other"

    @classmethod
    def of(cls, text: str) -> DevKind:
        # md: "raid0", "raid1", "raid10", ..., "linear" (the array's personality).
        if text.startswith("raid") or text == "linear":
            return cls.MD
        try:
            return cls(text)
        except ValueError:
            return cls.OTHER


@dataclass(frozen=True)
class BlockDev:
    """One row of lsblk: a device and (for stacked devices) one of its parents."""

    name: str
    kname: str
    parent: str | None
    kind: DevKind
    fstype: str | None
    size: int
    uuid: str | None
    label: str | None
    partuuid: str | None
    mountpoint: str | None
    sector_size: int
    removable: bool


def _str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text) if text.strip() else None
    except ValueError as exc:
        log.warning("cannot parse the JSON output of %s: %s", what, exc)
        return None


def parse_lsblk(text: str) -> tuple[BlockDev, ...]:
    data = _json(text, "lsblk")
    rows = data.get("blockdevices", []) if isinstance(data, dict) else []
    devices: list[BlockDev] = []
    for row in rows:
        name = _str(row.get("name"))
        if name is None:
            continue
        devices.append(
            BlockDev(
                name=name,
                kname=_str(row.get("kname")) or name,
                parent=_str(row.get("pkname")),
                kind=DevKind.of(_str(row.get("type")) or ""),
                fstype=_str(row.get("fstype")),
                size=_int(row.get("size")),
                uuid=_str(row.get("uuid")),
                label=_str(row.get("label")),
                partuuid=_str(row.get("partuuid")),
                mountpoint=_str(row.get("mountpoint")),
                # 512 bytes: the kernel's sector unit when the column is missing (block/blk-settings.c).
                sector_size=_int(row.get("log-sec"), 512),
                removable=bool(row.get("rm")),
            )
        )
    return tuple(devices)


@dataclass(frozen=True)
class Superblock:
    """What blkid found on one device."""

    device: str
    type: str | None
    uuid: str | None
    label: str | None
    partuuid: str | None


def parse_blkid_export(text: str) -> dict[str, Superblock]:
    """`blkid -o export`: KEY=value lines, one blank-line separated block per device."""
    found: dict[str, Superblock] = {}
    for block in text.split("\n\n"):
        values: dict[str, str] = {}
        for line in block.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key.strip()] = value.strip()
        device = values.get("DEVNAME")
        if device:
            found[device] = Superblock(
                device, values.get("TYPE"), values.get("UUID"), values.get("LABEL"), values.get("PARTUUID")
            )
    return found


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    fstype: str
    options: str
    fsroot: str


def parse_findmnt(text: str) -> tuple[Mount, ...]:
    data = _json(text, "findmnt")
    rows = data.get("filesystems", []) if isinstance(data, dict) else []
    return tuple(
        Mount(
            source=_str(r.get("source")) or "",
            target=_str(r.get("target")) or "",
            fstype=_str(r.get("fstype")) or "",
            options=_str(r.get("options")) or "",
            fsroot=_str(r.get("fsroot")) or "/",
        )
        for r in rows
    )


@dataclass(frozen=True)
class TablePartition:
    """A partition as sfdisk reports it, with start and size already in bytes."""

    node: str
    number: int
    start: int
    size: int
    type: str
    uuid: str | None
    name: str | None
    attrs: str | None
    bootable: bool


@dataclass(frozen=True)
class PartitionTable:
    device: str
    label: str
    id: str | None
    first_lba: int | None
    sector_size: int
    partitions: tuple[TablePartition, ...]


def _part_number(node: str) -> int:
    digits = ""
    for char in reversed(node):
        if not char.isdigit():
            break
        digits = char + digits
    return int(digits) if digits else 0


def parse_sfdisk(text: str, device: str, sector_size: int) -> PartitionTable | None:
    """`sfdisk --json DEV`; sizes are in sectors of `sectorsize` bytes (given since util-linux 2.38, else
    the logical sector size lsblk reported)."""
    data = _json(text, f"sfdisk --json {device}")
    table = data.get("partitiontable") if isinstance(data, dict) else None
    if not isinstance(table, dict):
        return None
    unit = _int(table.get("sectorsize"), sector_size)
    parts = tuple(
        TablePartition(
            node=str(p["node"]),
            number=_part_number(str(p["node"])),
            start=_int(p.get("start")) * unit,
            size=_int(p.get("size")) * unit,
            type=str(p.get("type", "")),
            uuid=_str(p.get("uuid")),
            name=_str(p.get("name")),
            attrs=_str(p.get("attrs")),
            bootable=bool(p.get("bootable")),
        )
        for p in table.get("partitions", [])
        if "node" in p
    )
    first_lba = table.get("firstlba")
    return PartitionTable(
        device=device,
        label=str(table.get("label", "")),
        id=_str(table.get("id")),
        first_lba=_int(first_lba) if first_lba is not None else None,
        sector_size=unit,
        partitions=parts,
    )


@dataclass(frozen=True)
class ActiveSwap:
    device: str
    kind: str


def parse_proc_swaps(text: str) -> tuple[ActiveSwap, ...]:
    """/proc/swaps (proc(5)): a header line, then `Filename Type Size Used Priority`; blanks in file
    names are written as \\040."""
    swaps: list[ActiveSwap] = []
    for line in text.splitlines()[1:]:
        words = line.split()
        if len(words) >= 2:
            swaps.append(ActiveSwap(words[0].replace("\\040", " "), words[1]))
    return tuple(swaps)
