"""Whether a disk layout, taken as a whole, can be recreated: checked before any plan exists.

The reader checks each line on its own; this checks what only the whole file shows: partitions that fit
their disk and each other, sizes a device can have, one use per device, LVs that fit their VG, RAID device
counts, mount points inside the target, a root file system, and references to devices nothing provides
(the dependency graph, `rearbuild.layout.deps`). A layout that fails here would otherwise fail during a real
recovery, after `wipefs` has run.

Only active (not excluded) records are checked. Every problem names the file and line of its record.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from rearbuild.errors import UserError
from rearbuild.layout.deps import build_graph, creation_order
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
    LvmGrp,
    LvmVol,
    Multipath,
    Part,
    RaidArray,
    RaidDisk,
    Record,
    Swap,
)
from rearbuild.layout.partitions import FIRST_LOGICAL, LabelType, MsdosPartKind

# A block device's size is an loff_t, a signed 64-bit byte count (include/linux/types.h); nothing larger
# is a size any device can have.
MAX_BYTES = 2**63 - 1
# The smallest sector (logical block) size Linux supports; sizes in sectors are checked with it as a bound
# that never refuses a real disk (queue_logical_block_size, block/blk-settings.c).
_MIN_SECTOR = 512
# A GPT needs the protective MBR (LBA 0), its header (LBA 1) and 128 entries of 128 bytes (32 sectors of 512
# bytes) before the first partition (UEFI spec 2.10 §5.3.2); with 4 KiB sectors it is 6 sectors, more bytes.
_GPT_HEAD_BYTES = 34 * _MIN_SECTOR
# The copy at the end: the entries and the backup header, as rearbuild.recover.plan reserves them.
_GPT_BACKUP_SECTORS = 33
# An MBR has four slots (sfdisk(8)): primary and extended partitions together; logical partitions are
# numbered from 5 (FIRST_LOGICAL) up to the kernel's limit of partitions per disk (DISK_MAX_PARTS, 256).
_MBR_SLOTS = 4
_MAX_LOGICAL = 255
# sfdisk writes a GPT with 128 entries (UEFI spec 2.10 §5.3.2 minimum, sfdisk(8) "table-length").
_GPT_ENTRIES = 128
# The partition number ends the device name (/dev/sda3, /dev/nvme0n1p3, /dev/mapper/mpatha-part3).
_TRAILING_NUMBER = re.compile(r"(?<![0-9])([0-9]+)$")
# ext2/3/4 block sizes mke2fs(8) accepts: 1024 to 65536, powers of two.
_EXT_BLOCK_SIZES = frozenset(2**n for n in range(10, 17))
# mke2fs(8) -i: "bytes-per-inode ... can be no smaller than the blocksize ... no larger than 64 MiB".
_MAX_BYTES_PER_INODE = 64 * 1024**2
# mke2fs(8) -m: the reserved percentage is at most 50 (misc/mke2fs.c "invalid reserved blocks percent").
_MAX_RESERVED_PERCENT = 50
# tune2fs(8) -c: -1 or 0..16000 mounts; -i: the interval is stored in seconds as 32 bits (49710 days).
_MAX_MOUNTS = 16000
_MAX_CHECK_DAYS = (2**32 - 1) // 86400


@dataclass(frozen=True)
class Problem:
    """What is wrong with one record of the layout."""

    # None for what no one record is to blame for (an empty layout has no root file system).
    entry: Entry | None
    what: str

    @property
    def line(self) -> int:
        return (self.entry.line or 0) if self.entry is not None else 0

    def describe(self, source: str) -> str:
        where = f"{source}:{self.line}" if self.line else source
        return f"{where}: {self.what}"


def validate(layout: Layout, *, sector_sizes: Mapping[str, int] | None = None, need_root: bool = True) -> None:
    """Raise a UserError listing every problem of the layout (file:line each), or return when it has none.

    sector_sizes: logical sector size by disk where known (the GPT backup area at the end depends on it).
    need_root: refuse a layout without a root file system (recovery restores into it).
    """
    found = problems(layout, sector_sizes=sector_sizes, need_root=need_root)
    if found:
        raise UserError(
            "the disk layout cannot be recreated: " + "; ".join(p.describe(layout.source) for p in found),
            hint=f"correct those lines of {layout.source} (or a disklayout.conf in the configuration directory), "
            "exclude the components with EXCLUDE_RECREATE, or re-run `rearbuild savelayout`",
        )
    # References to devices nothing provides, and dependency cycles (UserError with file:line).
    creation_order(layout, build_graph(layout))


def problems(
    layout: Layout, *, sector_sizes: Mapping[str, int] | None = None, need_root: bool = True
) -> tuple[Problem, ...]:
    """Every problem of the layout's active records, in file order of the records."""
    entries = [e for e in layout.entries if not e.excluded]
    found = [
        *_sizes(entries),
        *_geometry(entries, sector_sizes or {}),
        *_raid(entries),
        *_lvm(entries),
        *_uses(entries),
        *_mounts(entries),
        *_fs_attributes(entries),
        *_identities(entries),
    ]
    if need_root and not any(_mountpoint(e.record) == "/" for e in entries):
        no_root = "no file system is mounted at / (the layout has no root file system)"
        found.append(Problem(entries[0] if entries else None, no_root))
    return tuple(sorted(found, key=lambda p: p.line))


# ---------------------------------------------------------------------------------------------------------
# Sizes


def _size_of(record: Record) -> tuple[str, int] | None:
    match record:
        case Disk() | RaidDisk() | Multipath():
            return f"{record.device} size", record.size
        case Part():
            return f"partition {record.device} size", record.size
        case LvmVol():
            return f"logical volume {record.vg_name}/{record.name} size", record.size
    return None


def _sizes(entries: list[Entry]) -> Iterator[Problem]:
    for entry in entries:
        sized = _size_of(entry.record)
        if sized is None:
            continue
        what, size = sized
        if size <= 0:
            yield Problem(entry, f"{what} is {size} bytes; it must be positive")
        elif size > MAX_BYTES:
            yield Problem(entry, f"{what} is {size} bytes, more than any device can hold (2^63-1)")
        record = entry.record
        if isinstance(record, Part) and not 0 < record.start <= MAX_BYTES:
            yield Problem(entry, f"partition {record.device} starts at byte {record.start}; the partition "
                                 "table itself is there (a start must be positive)")  # fmt: skip
        if isinstance(record, LvmGrp) and not 0 < record.extent_size_kib <= MAX_BYTES // 1024:
            yield Problem(entry, f"volume group {record.vg_name} has an extent size of {record.extent_size_kib} KiB")


# ---------------------------------------------------------------------------------------------------------
# Partitions: inside their disk, not overlapping, msdos rules


def _geometry(entries: list[Entry], sector_sizes: Mapping[str, int]) -> Iterator[Problem]:
    tables: dict[str, tuple[str, int, LabelType]] = {}
    for entry in entries:
        record = entry.record
        if isinstance(record, Disk | RaidDisk | Multipath):
            tables[record.device] = (record.device, record.size, record.label)
    parts: dict[str, list[Entry]] = {}
    for entry in entries:
        if isinstance(entry.record, Part):
            parts.setdefault(entry.record.disk, []).append(entry)
    for disk, mine in parts.items():
        table = tables.get(disk)
        if table is None:
            continue  # the dependency check names the missing disk
        yield from _table(table, mine, sector_sizes.get(disk, _MIN_SECTOR))


def _part(entry: Entry) -> Part:
    assert isinstance(entry.record, Part)
    return entry.record


def _table(table: tuple[str, int, LabelType], entries: list[Entry], sector: int) -> Iterator[Problem]:
    device, size, label = table
    if not label.has_partition_table:
        for entry in entries:
            yield Problem(entry, f"partition {_part(entry).device} is on {device}, which has no partition table "
                                 f"(its label type is {label.value})")  # fmt: skip
        return
    sane = [e for e in entries if _part(e).size > 0 and _part(e).start > 0]
    end_limit = size - (_GPT_BACKUP_SECTORS * sector if label.is_gpt else 0)
    for entry in sane:
        part = _part(entry)
        if label.is_gpt and part.start < _GPT_HEAD_BYTES:
            yield Problem(entry, f"partition {part.device} starts at byte {part.start}, inside the GPT of {device}")
        if part.start % sector or part.size % sector:
            yield Problem(entry, f"partition {part.device} (start {part.start}, size {part.size} bytes) is not made "
                                 f"of whole {sector}-byte sectors")  # fmt: skip
        if part.start + part.size > end_limit:
            room = " and the GPT backup at its end" if label.is_gpt else ""
            yield Problem(entry, f"partition {part.device} ends at byte {part.start + part.size}, past the end of "
                                 f"{device} ({size} bytes{room})")  # fmt: skip
    yield from _numbers(device, label, entries)
    if label is LabelType.MSDOS:
        yield from _msdos(device, entries, sane)
        outer = [e for e in sane if _part(e).msdos_kind is not MsdosPartKind.LOGICAL]
        inner = [e for e in sane if _part(e).msdos_kind is MsdosPartKind.LOGICAL]
        yield from _overlaps(outer)
        yield from _overlaps(inner)
    else:
        yield from _overlaps(sane)


def _msdos(device: str, entries: list[Entry], sane: list[Entry]) -> Iterator[Problem]:
    slots = [e for e in entries if _part(e).msdos_kind is not MsdosPartKind.LOGICAL]
    if len(slots) > _MBR_SLOTS:
        yield Problem(slots[_MBR_SLOTS], f"{device} has {len(slots)} primary and extended partitions; an msdos "
                                          "partition table holds 4 (make the others logical partitions)")  # fmt: skip
    for entry in entries:
        if _part(entry).msdos_kind is None:
            yield Problem(entry, f"partition {_part(entry).device} on the msdos disk {device} is "
                                 f"{_part(entry).name!r}, not primary, extended or logical")  # fmt: skip
    extended = [e for e in sane if _part(e).msdos_kind is MsdosPartKind.EXTENDED]
    if len(extended) > 1:
        yield Problem(extended[1], f"{device} has more than one extended partition")
    box = _part(extended[0]) if extended else None
    for entry in sane:
        part = _part(entry)
        if part.msdos_kind is not MsdosPartKind.LOGICAL:
            continue
        # A logical partition follows its extended boot record, so it starts after the extended one does.
        if box is None or not (box.start < part.start and part.start + part.size <= box.start + box.size):
            where = f"the extended partition {box.device}" if box is not None else "an extended partition"
            yield Problem(entry, f"logical partition {part.device} is not inside {where}")


def _numbers(device: str, label: LabelType, entries: list[Entry]) -> Iterator[Problem]:
    """Partition numbers (the digits that end the device name) the table can have, each once."""
    seen: dict[int, Entry] = {}
    for entry in entries:
        part = _part(entry)
        found = _TRAILING_NUMBER.search(part.device)
        if found is None:
            yield Problem(entry, f"partition {part.device} is not named after its number (like {device}1)")
            continue
        number = int(found[1])
        kind = part.msdos_kind
        if label is LabelType.MSDOS:
            low, high = (FIRST_LOGICAL, _MAX_LOGICAL) if kind is MsdosPartKind.LOGICAL else (1, _MBR_SLOTS)
        else:
            low, high = 1, _GPT_ENTRIES
        if not low <= number <= high:
            what = f"a {kind.value}" if label is LabelType.MSDOS and kind is not None else "a"
            yield Problem(entry, f"{part.device} would be {what} partition number {number} of {device} "
                                 f"({low} to {high})")  # fmt: skip
        elif number in seen:
            yield Problem(entry, f"{part.device} has the partition number of {_part(seen[number]).device}")
        seen.setdefault(number, entry)


def _overlaps(entries: list[Entry]) -> Iterator[Problem]:
    ordered = sorted(entries, key=lambda e: (_part(e).start, e.line or 0))
    for before, after in itertools.pairwise(ordered):
        a, b = _part(before), _part(after)
        if b.start < a.start + a.size:
            yield Problem(after, f"partition {b.device} (bytes {b.start}-{b.start + b.size}) overlaps {a.device} "
                                 f"(bytes {a.start}-{a.start + a.size})")  # fmt: skip


# ---------------------------------------------------------------------------------------------------------
# RAID and LVM


def _raid(entries: list[Entry]) -> Iterator[Problem]:
    for entry in entries:
        md = entry.record
        if not isinstance(md, RaidArray):
            continue
        spares = md.spare_devices or 0
        if md.raid_devices < 1 or spares < 0:
            yield Problem(entry, f"{md.device} has raid-devices={md.raid_devices} spare-devices={spares}; "
                                 "raid-devices must be at least 1 and spare-devices not negative")  # fmt: skip
        elif len(md.devices) != md.raid_devices + spares:
            # mdadm --create takes exactly raid-devices + spare-devices component devices (mdadm(8)).
            yield Problem(entry, f"{md.device} lists {len(md.devices)} devices for raid-devices={md.raid_devices}"
                                 + (f" and spare-devices={spares}" if spares else ""))  # fmt: skip
        if md.level not in _MD_LEVELS:
            yield Problem(entry, f"{md.device} has level={md.level}, which mdadm does not know")
        if len(set(md.devices)) != len(md.devices):
            yield Problem(entry, f"{md.device} lists a device twice")


# mdadm(8) --level: the names and numbers it accepts for --create.
_MD_LEVELS = frozenset(
    "linear raid0 0 stripe raid1 1 mirror raid4 4 raid5 5 raid6 6 raid10 10 multipath mp faulty container".split()
)


def _lvm(entries: list[Entry]) -> Iterator[Problem]:
    groups = {e.record.vg: (e, e.record) for e in entries if isinstance(e.record, LvmGrp)}
    used: dict[str, int] = {}
    last: dict[str, Entry] = {}
    for entry in entries:
        lv = entry.record
        if not isinstance(lv, LvmVol) or lv.is_thin_volume:
            continue  # thin volumes may be larger than their pool (over-provisioning)
        # Every raid1 mirror is a full copy (lvcreate(8) --mirrors); stripes share the size.
        copies = 1 + max(lv.mirrors or 0, 0)
        used[lv.vg] = used.get(lv.vg, 0) + lv.size * copies
        last[lv.vg] = entry
        found = groups.get(lv.vg)
        vg_bytes = _vg_bytes(found[1]) if found else None
        if vg_bytes is not None and lv.size * copies > vg_bytes:
            yield Problem(entry, f"logical volume {lv.vg_name}/{lv.name} ({lv.size * copies} bytes) is larger than "
                                 f"its volume group ({vg_bytes} bytes)")  # fmt: skip
    for vg, total in used.items():
        found = groups.get(vg)
        vg_bytes = _vg_bytes(found[1]) if found else None
        if vg_bytes is not None and total > vg_bytes:
            yield Problem(last[vg], f"the logical volumes of {vg.removeprefix('/dev/')} need {total} bytes, more "
                                    f"than the volume group holds ({vg_bytes} bytes)")  # fmt: skip


def _vg_bytes(vg: LvmGrp) -> int | None:
    if vg.size_kib is not None and vg.size_kib > 0:
        return vg.size_kib * 1024
    if vg.extents is not None and vg.extents > 0:
        return vg.extents * vg.extent_size_kib * 1024
    return None


# ---------------------------------------------------------------------------------------------------------
# One use per device


def _uses_of(record: Record) -> Iterator[tuple[str, str]]:
    """(device, what the record makes of it) for every device whose content the record writes."""
    match record:
        case Fs():
            yield record.device, f"a {record.fstype.value} file system for {record.mountpoint}"
        case Swap():
            yield record.device, "swap"
        case LvmDev():
            yield record.device, f"an LVM physical volume of {record.vg_name}"
        case RaidArray():
            for member in record.devices:
                yield member, f"a member of {record.device}"
        case Crypt():
            yield record.source, f"the LUKS device under {record.device}"
        case Drbd():
            yield record.source, f"the backing device of {record.device}"
        case Part():
            yield record.disk, "a partition table"


def _uses(entries: list[Entry]) -> Iterator[Problem]:
    first: dict[str, tuple[str, Entry]] = {}
    for entry in entries:
        for device, use in dict.fromkeys(_uses_of(entry.record)):
            if device not in first:
                first[device] = (use, entry)
                continue
            was, where = first[device]
            if was != use:
                line = f" (line {where.line})" if where.line is not None else ""
                yield Problem(entry, f"{device} would hold {use}, but it already holds {was}{line}")


# ---------------------------------------------------------------------------------------------------------
# Mount points inside the target


def _mountpoint(record: Record) -> str | None:
    return record.mountpoint if isinstance(record, Fs | BtrfsMountedSubvol | BtrfsSubvol) else None


def _escapes(path: str) -> bool:
    return any(word in (".", "..") for word in path.split("/"))


def _mounts(entries: list[Entry]) -> Iterator[Problem]:
    for entry in entries:
        record = entry.record
        mountpoint = _mountpoint(record)
        if mountpoint is not None and (not mountpoint.startswith("/") or _escapes(mountpoint)):
            yield Problem(entry, f"mount point {mountpoint!r} is not an absolute path inside the recovered "
                                 "system (no '.' or '..' parts)")  # fmt: skip
        if isinstance(record, BtrfsSubvol | BtrfsMountedSubvol) and _escapes(record.path):
            yield Problem(entry, f"btrfs subvolume path {record.path!r} has '.' or '..' parts")


# ---------------------------------------------------------------------------------------------------------
# File system attributes the mkfs/tune2fs commands would refuse after the disks were wiped


def _fs_attributes(entries: list[Entry]) -> Iterator[Problem]:
    for entry in entries:
        fs = entry.record
        if not isinstance(fs, Fs) or not fs.fstype.is_ext:
            continue
        name = f"{fs.device} ({fs.mountpoint})"
        if fs.blocksize is not None and fs.blocksize not in _EXT_BLOCK_SIZES:
            yield Problem(entry, f"{name} has blocksize={fs.blocksize}; ext block sizes are 1024 to 65536, powers of 2")
        if fs.bytes_per_inode is not None and not 1024 <= fs.bytes_per_inode <= _MAX_BYTES_PER_INODE:
            yield Problem(entry, f"{name} has bytes_per_inode={fs.bytes_per_inode} (1024 to {_MAX_BYTES_PER_INODE})")
        reserved = fs.reserved_blocks
        if reserved is not None and not (
            0 <= reserved.amount <= (_MAX_RESERVED_PERCENT if reserved.percent else MAX_BYTES)
        ):
            yield Problem(entry, f"{name} has reserved_blocks={reserved}")
        if fs.max_mounts is not None and not -1 <= fs.max_mounts <= _MAX_MOUNTS:
            yield Problem(entry, f"{name} has max_mounts={fs.max_mounts} (-1 to {_MAX_MOUNTS})")
        if fs.check_interval_days is not None and not 0 <= fs.check_interval_days <= _MAX_CHECK_DAYS:
            yield Problem(entry, f"{name} has check_interval={fs.check_interval_days}d (0 to {_MAX_CHECK_DAYS} days)")


# ---------------------------------------------------------------------------------------------------------
# Identities and technical options: ASCII, as the tools read them


def _technical(record: Record) -> tuple[tuple[str, str | None], ...]:
    """The text fields a tool or the kernel parses (device names, numbers, UUIDs, algorithms, mount options),
    by what they are; labels, mount points and subvolume paths may be any text."""
    match record:
        case Disk():
            return (("device", record.device), ("gpt_guid", record.gpt_guid))
        case Part():
            return (("device", record.disk), ("device", record.device), ("partition uuid", record.partuuid),
                    ("gpt_type", record.gpt_type))  # fmt: skip
        case RaidArray():
            return (("device", record.device), ("devices", ",".join(record.devices)), ("level", record.level),
                    ("metadata", record.metadata), ("uuid", record.uuid), ("name", record.name),
                    ("layout", record.layout), ("chunk", record.chunk), ("size", record.size))  # fmt: skip
        case Crypt():
            return (("device", record.device), ("device", record.source), ("cipher", record.cipher),
                    ("hash", record.hash), ("uuid", record.uuid), ("pbkdf", record.pbkdf))  # fmt: skip
        case LvmDev():
            return (("volume group", record.vg), ("device", record.device), ("uuid", record.uuid))
        case LvmGrp():
            return (("volume group", record.vg),)
        case LvmVol():
            return (("volume group", record.vg), ("logical volume", record.name), ("layout", ",".join(record.layout)),
                    ("thinpool", record.thinpool))  # fmt: skip
        case Fs():
            return (("device", record.device), ("uuid", record.uuid), ("options", record.options))
        case Swap():
            return (("device", record.device), ("uuid", record.uuid))
        case BtrfsMountedSubvol():
            return (("device", record.device), ("options", record.options))
        case Multipath() | RaidDisk() | Drbd():
            return (("device", record.device),)
    return ()


def _identities(entries: list[Entry]) -> Iterator[Problem]:
    for entry in entries:
        for name, value in _technical(entry.record):
            # Full-width or other non-ASCII digits look like numbers to a reader and to nothing else.
            if value is not None and not (value.isascii() and value.isprintable()):
                yield Problem(entry, f"{name} {value!r} has characters other than ASCII")
