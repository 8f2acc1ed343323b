"""Device names of a layout moved onto other disks: an old disk -> new disk mapping (ReaR's disk_mappings).

Partitions follow their disk by number (/dev/vda3 -> /dev/sdb3, /dev/loop0 -> /dev/loop0p1 style names are
the kernel's: a disk name ending in a digit gets a `p` before the partition number, block/partitions/core.c
`bdev_add_partition`/disk_name()). Every device field of every record is rewritten in one pass, so swaps
(vda <-> vdb) are safe without ReaR's temporary _REAR<n>_ words.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

from rearbuild.errors import UserError
from rearbuild.layout.model import (
    BtrfsMountedSubvol,
    BtrfsSubvol,
    Crypt,
    Disk,
    Drbd,
    Entry,
    Fs,
    Layout,
    LvmDev,
    Multipath,
    Part,
    RaidArray,
    RaidDisk,
    Record,
    Swap,
)

_PART_NUMBER = re.compile(r"^(?P<disk>.*?\D)p?(?P<number>\d+)$")


def partition_device(disk: str, number: int) -> str:
    """The kernel's name of partition `number` of `disk`: sda -> sda1, nvme0n1 -> nvme0n1p1, loop0 -> loop0p1."""
    return f"{disk}p{number}" if disk[-1:].isdigit() else f"{disk}{number}"


def partition_number(part: Part) -> int:
    """The partition's number, from its device name relative to its disk (/dev/vda3 -> 3, /dev/md0p2 -> 2)."""
    rest = part.device.removeprefix(part.disk)
    digits = rest.removeprefix("p")
    if rest != part.device and digits.isdigit():
        return int(digits)
    match = _PART_NUMBER.match(part.device)
    if match is None:
        raise UserError(
            f"cannot tell the partition number of {part.device} on {part.disk}",
            hint="partition devices are named after their disk with a number (/dev/sda1, /dev/nvme0n1p1)",
        )
    return int(match["number"])


def parse_mapping(text: str) -> dict[str, str]:
    """ReaR's disk_mappings file: `<old disk> <new disk>` per line, `#` comments."""
    mapping: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) != 2:
            raise UserError(f"disk_mappings:{number}: expected '<old disk> <new disk>', got {line.strip()!r}")
        mapping[words[0]] = words[1]
    return mapping


class _Renamer:
    def __init__(self, layout: Layout, disks: Mapping[str, str]) -> None:
        self.names: dict[str, str] = dict(disks)
        for record in layout.active:
            if isinstance(record, Part) and record.disk in disks:
                self.names[record.device] = partition_device(disks[record.disk], partition_number(record))

    def __call__(self, device: str) -> str:
        return self.names.get(device, device)

    def record(self, record: Record) -> Record:
        new = self
        match record:
            case Disk() | RaidDisk():
                return dataclasses.replace(record, device=new(record.device))
            case Part():
                return dataclasses.replace(record, disk=new(record.disk), device=new(record.device))
            case RaidArray():
                return dataclasses.replace(record, devices=tuple(new(d) for d in record.devices))
            case Multipath():
                return dataclasses.replace(record, slaves=tuple(new(s) for s in record.slaves))
            case LvmDev():
                return dataclasses.replace(record, device=new(record.device))
            case Crypt() | Drbd():
                return dataclasses.replace(record, source=new(record.source))
            case Fs() | BtrfsSubvol() | BtrfsMountedSubvol() | Swap():
                return dataclasses.replace(record, device=new(record.device))
        return record


def device_names(layout: Layout, disks: Mapping[str, str]) -> dict[str, str]:
    """Every device name the disk mapping changes, partitions included (old -> new), for patching the restored
    system's files (fstab, crypttab, boot loader) that name devices."""
    return {old: new for old, new in _Renamer(layout, disks).names.items() if old != new}


def map_disks(layout: Layout, disks: Mapping[str, str]) -> Layout:
    """The layout with every old disk of `disks` replaced by its new disk, partitions following by number."""
    if not disks:
        return layout
    targets = list(disks.values())
    doubled = sorted({t for t in targets if targets.count(t) > 1})
    if doubled:
        raise UserError(f"disk mapping sends two disks to {', '.join(doubled)}", hint="map each disk to its own disk")
    rename = _Renamer(layout, disks)
    items = tuple(
        dataclasses.replace(item, record=rename.record(item.record)) if isinstance(item, Entry) else item
        for item in layout.items
    )
    return dataclasses.replace(layout, items=items)
