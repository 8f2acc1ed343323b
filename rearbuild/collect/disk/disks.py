"""Capture of the disks and their partition tables (sfdisk's dump), leaving out the rescue medium."""

from __future__ import annotations

import logging
import re

from rearbuild.collect.disk import blockfacts as bf
from rearbuild.collect.disk.facts import Facts
from rearbuild.collect.disk.filesystems import fs_type
from rearbuild.layout.model import Disk, Entry, Item, Note, Part
from rearbuild.layout.partitions import (
    LabelType,
    MsdosPartKind,
    gpt_flags,
    gpt_name_field,
    msdos_flags,
    msdos_partuuid,
)

log = logging.getLogger("rearbuild.collect.disk.disks")

# Kernel block devices that are never disks of the system (ReaR scans /sys/block/{hd,sd,vd,xvd,nvme,...}*).
_NOT_DISKS = re.compile(r"^/dev/(ram|zram|loop|sr|fd|nbd)\d")
# The rescue medium carries an ISO 9660 file system or ReaR's USB data partition label (REAR-000).
_RESCUE_LABEL = "REAR-000"
_RESCUE_FSTYPES = frozenset({"iso9660", "udf"})


def _is_rescue_medium(facts: Facts, disk: bf.BlockDev) -> bool:
    for dev in (disk, *facts.children(disk.name)):
        _, label = facts.uuid_label(dev.name)
        if label == _RESCUE_LABEL or (facts.fstype(dev.name) or "") in _RESCUE_FSTYPES:
            return True
    return False


def disks_and_partitions(facts: Facts, extra: set[str]) -> tuple[list[Item], tuple[str, ...]]:
    """The disks with their partitions, and the rescue media left out. extra: devices taken as disks."""
    items: list[Item] = []
    skipped: list[str] = []
    for dev in facts.by_name.values():
        if dev.name not in extra:
            if dev.kind is not bf.DevKind.DISK or _NOT_DISKS.match(dev.name) or dev.size == 0:
                continue
            if _is_rescue_medium(facts, dev):
                log.info("%s is the rescue medium, not part of the layout", dev.name)
                skipped.append(dev.name)
                continue
        items += _disk(facts, dev)
    return items, tuple(skipped)


def _disk(facts: Facts, dev: bf.BlockDev) -> list[Item]:
    text = facts.probe.command(bf.sfdisk_argv(dev.name))
    table = bf.parse_sfdisk(text, dev.name, dev.sector_size) if text is not None else None
    if table is None:
        partitions = [c for c in facts.children(dev.name) if c.kind is bf.DevKind.PART]
        if partitions:
            # Partitions exist but the table could not be read (e.g. EPERM): recreating the disk from
            # a guess would destroy data, so it is recorded without partitions and marked in a note.
            log.warning("cannot read the partition table of %s; its partitions are not in the layout", dev.name)
            note = Note(f"# The partition table of {dev.name} could not be read; its partitions are missing.")
            return [note, Entry(Disk(dev.name, dev.size, LabelType.UNKNOWN))]
        fstype = facts.fstype(dev.name)
        label = LabelType.LOOP if fstype is not None and fs_type(fstype) is not None else LabelType.UNKNOWN
        return [Entry(Disk(dev.name, dev.size, label))]
    if table.label == "gpt":
        disk = Disk(
            dev.name,
            dev.size,
            LabelType.GPT,
            gpt_guid=table.id.lower() if table.id else None,
            first_usable_lba=table.first_lba,
        )
        return [Entry(disk), *(Entry(_gpt_part(dev.name, p)) for p in table.partitions)]
    if table.label == "dos":
        return [
            Entry(Disk(dev.name, dev.size, LabelType.MSDOS)),
            *(Entry(_dos_part(dev.name, p, table.id)) for p in table.partitions),
        ]
    try:
        label = LabelType(table.label)
    except ValueError:
        label = LabelType.UNKNOWN
    log.warning("%s has a %s partition table; its partitions are not captured", dev.name, table.label)
    return [Entry(Disk(dev.name, dev.size, label))]


def _gpt_part(disk: str, p: bf.TablePartition) -> Part:
    return Part(
        disk,
        p.size,
        p.start,
        gpt_name_field(p.name),
        gpt_flags(p.type, p.attrs),
        p.node,
        partuuid=p.uuid.lower() if p.uuid else None,
        gpt_type=p.type.upper(),
    )


def _dos_part(disk: str, p: bf.TablePartition, disk_id: str | None) -> Part:
    partuuid = p.uuid.lower() if p.uuid else None
    if partuuid is None and disk_id:
        partuuid = msdos_partuuid(disk_id, p.number)
    kind = MsdosPartKind.of(p.type, p.number)
    return Part(disk, p.size, p.start, kind.value, msdos_flags(p.type, p.bootable), p.node, partuuid=partuuid)
