"""Read and write ReaR's disklayout.conf (study §2.1, §2.2, §2.5).

The writer emits ReaR's current format: the header, then every record with the `# Format:` comment lines
ReaR prints before each group, excluded records as `#keyword ...`. The group comments are not stored in the
model: they are regenerated from the record sequence, so write(read(text)) == text for our own files.

The reader also takes the older variants ReaR wrote: lvmvol in extents and sectors, ext reserved_blocks as
a block count, crypt without type=, the `raid` keyword before PR #2800, part lines without the trailing
PARTUUID. Records with a keyword we do not know are kept verbatim; `unsupported()` lists them so that the
caller can refuse to save a layout nothing knows how to recreate.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from rearbuild.errors import InternalError, UserError
from rearbuild.layout.model import (
    BtrfsMountedSubvol,
    BtrfsNoCopyOnWrite,
    BtrfsSubvol,
    BtrfsSubvolKind,
    Crypt,
    Disk,
    Drbd,
    Entry,
    Fs,
    FsType,
    Item,
    Keyword,
    Layout,
    LuksType,
    LvmDev,
    LvmGrp,
    LvmVol,
    Multipath,
    Note,
    Option,
    Part,
    RaidArray,
    RaidDisk,
    Record,
    ReservedBlocks,
    Swap,
    Verbatim,
    keyword_of,
)
from rearbuild.layout.partitions import LabelType, PartFlag

DEFAULT_NAME = "disklayout.conf"

# Old lvmvol lines give the size in 512-byte sectors (`lvdisplay -c` field 7, lvdisplay(8)).
_SECTOR = 512

_NO_PARTUUID = "no-partuuid"


class _FieldError(Exception):
    """What is wrong with one line; the reader adds file and line number."""


# ---------------------------------------------------------------------------------------------------------
# Group comments


def _group(record: Record) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(group key, the comment lines ReaR writes before the first record of that group)."""
    match record:
        case Disk():
            return ("disk", record.device), (
                f"# Disk {record.device}",
                "# Format: disk <devname> <size(bytes)> <partition label type>",
            )
        case Part():
            return ("part", record.disk), (
                f"# Partitions on {record.disk}",
                "# Format: part <device> <partition size(bytes)> <partition start(bytes)> "
                "<partition type|name> <flags> /dev/<partition> <partition uuid|no-partuuid>",
            )
        case RaidArray():
            return ("raidarray",), (
                "# Software RAID devices (mdadm)",
                "# Format: raidarray /dev/<kernel RAID device> level=<RAID level> "
                "raid-devices=<nr of active devices> devices=<component device1,component device2,...> "
                "[name=<array name>] [metadata=<metadata style>] [uuid=<UUID>] [layout=<data layout>] "
                "[chunk=<chunk size>] [spare-devices=<nr of spare devices>] [size=<container size>]",
            )
        case RaidDisk():
            return ("raiddisk", record.device), (
                f"# RAID disk {record.device}",
                "# Format: raiddisk <devname> <size(bytes)> <partition label type>",
            )
        case Multipath():
            return ("multipath",), (
                "# Multipath devices",
                "# Format: multipath <devname> <size(bytes)> <partition label type> <slaves>",
            )
        case LvmDev():
            return ("lvmdev",), (
                "# Format for LVM PVs",
                "# lvmdev <volume_group> <device> [<uuid>] [<size(bytes)>]",
            )
        case LvmGrp():
            return ("lvmgrp",), (
                "# Format for LVM VGs",
                "# lvmgrp <volume_group> <extentsize> [<size(extents)>] [<size(bytes)>]",
            )
        case LvmVol():
            return ("lvmvol",), (
                "# Format for LVM LVs",
                "# lvmvol <volume_group> <name> <size(bytes)> <layout> [key:value ...]",
            )
        case Crypt():
            return ("crypt",), (
                "# LUKS devices",
                "# Format: crypt /dev/mapper/<name> <device> [type=<type>] [cipher=<cipher>] "
                "[key_size=<key size>] [hash=<hash function>] [uuid=<uuid>] [pbkdf=<pbkdf algo>] "
                "[keyfile=<keyfile>] [password=<password>]",
            )
        case Drbd():
            return ("drbd",), (
                "# DRBD devices",
                "# Format: drbd /dev/drbd<nr> <drbd resource name> <device>",
            )
        case Fs():
            return ("fs",), (
                "# Filesystems (only ext2,ext3,ext4,vfat,xfs,reiserfs,btrfs are supported).",
                "# Format: fs <device> <mountpoint> <fstype> [uuid=<uuid>] [label=<label>] [<attributes>]",
            )
        case BtrfsSubvol():
            word = record.kind.value.value
            title = {
                BtrfsSubvolKind.DEFAULT: "default subvolume",
                BtrfsSubvolKind.NORMAL: "normal subvolumes",
                BtrfsSubvolKind.SNAPSHOT: "snapshot subvolumes",
            }[record.kind]
            return (word, record.device, record.mountpoint), (
                f"# Btrfs {title} for {record.device} at {record.mountpoint}",
                f"# Format: {word} <device> <mountpoint> <btrfs_subvolume_ID> <btrfs_subvolume_path>",
            )
        case BtrfsMountedSubvol():
            return ("btrfsmountedsubvol",), (
                "# All mounted btrfs subvolumes (including mounted btrfs default subvolumes "
                "and mounted btrfs snapshot subvolumes).",
                "# Format: btrfsmountedsubvol <device> <subvolume_mountpoint> <mount_options> <btrfs_subvolume_path>",
            )
        case BtrfsNoCopyOnWrite():
            return ("btrfsnocopyonwrite",), (
                "# Btrfs subvolumes or directories with the no-copy-on-write attribute",
                "# Format: btrfsnocopyonwrite <btrfs_subvolume_path>",
            )
        case Swap():
            return ("swap",), (
                "# Swap partitions or swap files",
                "# Format: swap <filename> uuid=<uuid> label=<label>",
            )
        case Verbatim():
            formats = {
                Keyword.SMARTARRAY: "# Format: smartarray <slot number>",
                Keyword.LOGICALDRIVE: "# Format: logicaldrive <device> <slot nr>|<array name>|"
                "<logical drive name> raid=<raid level> drives=<drive1,drive2> [spares=<spare1,spare2>] "
                "[sectors=<sectors>] [stripesize=<stripesize>]",
                Keyword.OPALDISK: "# Format: opaldisk <device> [boot=<[yn]>] [password=<password>]",
                Keyword.DASD_CHANNEL: "# Format: dasd_channel <bus-id> <device name>",
            }
            kw = record.keyword
            if kw is None or kw not in formats:
                return ("verbatim", record.word), ()
            return (kw.value,), (formats[kw],)
    raise InternalError(f"not a layout record: {record!r}")


# Comment lines that belong to the group headers above (ours and every ReaR version's): the reader drops
# them because the writer regenerates them. Everything else that is a comment is kept.
_GENERATED_PREFIXES = (
    "# Format",
    "# Disk /",
    "# Disk _REAR",
    "# Partitions on ",
    "# Software RAID devices",
    "# RAID disk ",
    "# Multipath devices",
    "# lvmdev <",
    "# lvmgrp <",
    "# lvmvol <",
    "# LUKS devices",
    "# DRBD devices",
    "# Filesystems (",
    "# Btrfs default subvolume",
    "# Btrfs normal subvolumes",
    "# Btrfs snapshot subvolumes",
    "# All mounted btrfs subvolumes",
    "# Btrfs subvolumes or directories with the no",
    "# Swap partitions or swap files",
)


def _is_generated(line: str) -> bool:
    return line.startswith(_GENERATED_PREFIXES)


# ---------------------------------------------------------------------------------------------------------
# Writing


def _opt(key: str, value: object | None) -> list[str]:
    return [] if value is None else [f"{key}={value}"]


def _extras(extra: tuple[Option, ...], sep: str = "=") -> list[str]:
    return [f"{k}{sep}{v}" for k, v in extra]


def _words(record: Record) -> list[str]:
    match record:
        case Disk():
            words = ["disk", record.device, str(record.size), record.label.value, *record.dasd_fields]
            return [
                *words,
                *_opt("gpt_guid", record.gpt_guid),
                *_opt("first_lba", record.first_usable_lba),
                *_extras(record.extra),
            ]
        case RaidDisk():
            return ["raiddisk", record.device, str(record.size), record.label.value]
        case Part():
            return [
                "part",
                record.disk,
                str(record.size),
                str(record.start),
                record.name,
                PartFlag.format_list(record.flags),
                record.device,
                record.partuuid or _NO_PARTUUID,
                *_opt("gpt_type", record.gpt_type),
                *_extras(record.extra),
            ]
        case RaidArray():
            return [
                "raidarray",
                record.device,
                f"level={record.level}",
                f"raid-devices={record.raid_devices}",
                "devices=" + ",".join(record.devices),
                *_opt("name", record.name),
                *_opt("metadata", record.metadata),
                *_opt("uuid", record.uuid),
                *_opt("layout", record.layout),
                *_opt("chunk", record.chunk),
                *_opt("spare-devices", record.spare_devices),
                *_opt("size", record.size),
                *_extras(record.extra),
            ]
        case Multipath():
            return [
                "multipath",
                record.device,
                str(record.size),
                record.label.value,
                ",".join(record.slaves),
            ]
        case LvmDev():
            words = ["lvmdev", record.vg, record.device]
            if record.uuid is not None:
                words.append(record.uuid)
                if record.size is not None:
                    words.append(str(record.size))
            return words
        case LvmGrp():
            words = ["lvmgrp", record.vg, str(record.extent_size_kib)]
            if record.extents is not None:
                words.append(str(record.extents))
                if record.size_kib is not None:
                    words.append(str(record.size_kib))
            return words
        case LvmVol():
            kv: list[str] = []
            if record.thinpool is not None:
                kv.append(f"thinpool:{record.thinpool}")
            for key, size in (
                ("poolmetadatasize", record.poolmetadatasize),
                ("chunksize", record.chunksize),
                ("stripesize", record.stripesize),
            ):
                if size is not None:
                    kv.append(f"{key}:{size}b")
            if record.stripes is not None:
                kv.append(f"stripes:{record.stripes}")
            if record.mirrors is not None:
                kv.append(f"mirrors:{record.mirrors}")
            layout = ",".join(record.layout)
            return [
                "lvmvol",
                record.vg,
                record.name,
                f"{record.size}b",
                layout,
                *kv,
                *_extras(record.extra, ":"),
            ]
        case Crypt():
            return [
                "crypt",
                record.device,
                record.source,
                *_opt("type", record.type.value if record.type else None),
                *_opt("cipher", record.cipher),
                *_opt("key_size", record.key_size),
                *_opt("hash", record.hash),
                *_opt("uuid", record.uuid),
                *_opt("pbkdf", record.pbkdf),
                *_opt("keyfile", record.keyfile),
                *_opt("password", record.password),
                *_extras(record.extra),
            ]
        case Drbd():
            return ["drbd", record.device, record.resource, record.source]
        case Fs():
            return [
                "fs",
                record.device,
                record.mountpoint,
                record.fstype.value,
                *_opt("uuid", record.uuid),
                *_opt("label", record.label),
                *_opt("blocksize", record.blocksize),
                *_opt("reserved_blocks", record.reserved_blocks),
                *_opt("max_mounts", record.max_mounts),
                *_opt(
                    "check_interval",
                    None if record.check_interval_days is None else f"{record.check_interval_days}d",
                ),
                *_opt("bytes_per_inode", record.bytes_per_inode),
                *_opt("default_mount_options", record.default_mount_options),
                *_opt("nodesize", record.nodesize),
                *_opt("sectorsize", record.sectorsize),
                *_opt("features", record.features),
                *_opt("options", record.options),
                *_extras(record.extra),
            ]
        case BtrfsSubvol():
            word = record.kind.value.value
            return [word, record.device, record.mountpoint, str(record.subvol_id), record.path]
        case BtrfsMountedSubvol():
            return ["btrfsmountedsubvol", record.device, record.mountpoint, record.options, record.path]
        case BtrfsNoCopyOnWrite():
            return ["btrfsnocopyonwrite", record.path]
        case Swap():
            return [
                "swap",
                record.device,
                *_opt("uuid", record.uuid),
                *_opt("label", record.label),
                *_extras(record.extra),
            ]
        case Verbatim():
            return [record.word, *record.fields]
    raise InternalError(f"not a layout record: {record!r}")


def format_record(record: Record) -> str:
    """One record as its disklayout.conf line (without a leading `#`)."""
    return " ".join(_words(record))


def format_layout(layout: Layout) -> str:
    """The whole file: header, group comments, records; excluded records commented out."""
    lines: list[str] = list(layout.header)
    current: tuple[str, ...] | None = None
    for item in layout.items:
        if isinstance(item, Note):
            lines.append(item.text)
            continue
        key, comments = _group(item.record)
        if key != current:
            lines.extend(comments)
            current = key
        text = format_record(item.record)
        lines.append("#" + text if item.excluded else text)
    return "".join(line + "\n" for line in lines)


def write_layout(layout: Layout, path: Path) -> None:
    path.write_text(format_layout(layout), encoding="utf-8")


def header_lines(stamp: str, lsblk_output: str) -> tuple[str, ...]:
    """ReaR's header: the date line (stamp is YYYYmmddHHMMSS, passed in so the output is reproducible)
    and the lsblk listing, each line behind `# `."""
    return (
        f"# Disk layout dated {stamp} (YYYYmmddHHMMSS)",
        *(f"# {line}" for line in lsblk_output.splitlines()),
    )


# ---------------------------------------------------------------------------------------------------------
# Reading


def _int(value: str, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise _FieldError(f"{what} {value!r} is not a whole number") from None


def _bytes_suffix(value: str, what: str) -> int:
    """A size LVM printed with `--units b`: digits with a `b` suffix (the suffix is optional here)."""
    return _int(value.removesuffix("b").removesuffix("B"), what)


def _label(value: str) -> LabelType:
    try:
        return LabelType(value)
    except ValueError:
        names = ", ".join(t.value for t in LabelType)
        raise _FieldError(f"partition label type {value!r} is not one of {names}") from None


def _positional(words: list[str], low: int, high: int | None, name: str) -> None:
    """Check the number of values after the keyword."""
    n = len(words)
    if n < low or (high is not None and n > high):
        if high is None:
            need = f"at least {low}"
        elif high == low:
            need = str(low)
        elif high == low + 1:
            need = f"{low} or {high}"
        else:
            need = f"{low} to {high}"
        raise _FieldError(f"{name} record needs {need} fields, found {n}")


def _keyvalues(words: Iterable[str], sep: str = "=") -> Iterator[Option]:
    for word in words:
        key, found, value = word.partition(sep)
        if not found or not key:
            raise _FieldError(f"{word!r} is not a key{sep}value option")
        yield key, value


class _Options:
    """key=value options of one line, taken one by one; the rest are kept as extras in file order."""

    def __init__(self, words: Iterable[str], sep: str = "=") -> None:
        self._items = list(_keyvalues(words, sep))

    def take(self, key: str) -> str | None:
        for i, (k, v) in enumerate(self._items):
            if k == key:
                del self._items[i]
                return v
        return None

    def take_int(self, key: str) -> int | None:
        value = self.take(key)
        return None if value is None else _int(value, key)

    def rest(self) -> tuple[Option, ...]:
        return tuple(self._items)


def _parse_disk(w: list[str]) -> Disk:
    _positional(w, 3, None, "disk")
    label = _label(w[2])
    rest = w[3:]
    dasd: tuple[str, ...] = ()
    if label is LabelType.DASD:
        # s390: <logical block size> <DASD layout> <DASD type> <size(cylinders)> (200_partition_layout.sh)
        dasd = tuple(rest[:4])
        rest = rest[4:]
    opts = _Options(rest)
    return Disk(
        device=w[0],
        size=_int(w[1], "disk size"),
        label=label,
        dasd_fields=dasd,
        gpt_guid=opts.take("gpt_guid"),
        first_usable_lba=opts.take_int("first_lba"),
        extra=opts.rest(),
    )


def _parse_raiddisk(w: list[str]) -> RaidDisk:
    _positional(w, 3, 3, "raiddisk")
    return RaidDisk(device=w[0], size=_int(w[1], "raiddisk size"), label=_label(w[2]))


def _parse_part(w: list[str]) -> Part:
    partuuid: str | None = None
    extras = w[6:]
    if extras and "=" not in extras[0]:
        # The 7th field, the PARTUUID, exists only in files written since ReaR's 2025-10 master.
        partuuid, extras = extras[0], extras[1:]
    _positional(w[: len(w) - len(extras)], 6, 7, "part")
    try:
        flags = PartFlag.parse_list(w[4])
    except ValueError as exc:
        raise _FieldError(str(exc)) from None
    opts = _Options(extras)
    return Part(
        disk=w[0],
        size=_int(w[1], "partition size"),
        start=_int(w[2], "partition start"),
        name=w[3],
        flags=flags,
        device=w[5],
        partuuid=None if partuuid == _NO_PARTUUID else partuuid,
        gpt_type=opts.take("gpt_type"),
        extra=opts.rest(),
    )


def _parse_raidarray(w: list[str]) -> RaidArray:
    _positional(w, 1, None, "raidarray")
    opts = _Options(w[1:])
    level = opts.take("level")
    devices_text = opts.take("devices")
    if level is None or devices_text is None:
        raise _FieldError("raidarray record needs level= and devices=")
    devices = tuple(d for d in devices_text.split(",") if d)
    raid_devices = opts.take_int("raid-devices")
    return RaidArray(
        device=w[0],
        level=level,
        raid_devices=len(devices) if raid_devices is None else raid_devices,
        devices=devices,
        name=opts.take("name"),
        metadata=opts.take("metadata"),
        uuid=opts.take("uuid"),
        layout=opts.take("layout"),
        chunk=opts.take("chunk"),
        spare_devices=opts.take_int("spare-devices"),
        size=opts.take("size"),
        extra=opts.rest(),
    )


def _parse_multipath(w: list[str]) -> Multipath:
    _positional(w, 4, 4, "multipath")
    return Multipath(
        device=w[0],
        size=_int(w[1], "multipath size"),
        label=_label(w[2]),
        slaves=tuple(s for s in w[3].split(",") if s),
    )


def _parse_lvmdev(w: list[str]) -> LvmDev:
    _positional(w, 2, 4, "lvmdev")
    return LvmDev(
        vg=w[0],
        device=w[1],
        uuid=w[2] if len(w) > 2 else None,
        size=_int(w[3], "PV size") if len(w) > 3 else None,
    )


def _parse_lvmgrp(w: list[str]) -> LvmGrp:
    _positional(w, 2, 4, "lvmgrp")
    return LvmGrp(
        vg=w[0],
        extent_size_kib=_int(w[1], "extent size"),
        extents=_int(w[2], "extent count") if len(w) > 2 else None,
        size_kib=_int(w[3], "VG size") if len(w) > 3 else None,
    )


def _parse_lvmvol(w: list[str]) -> LvmVol:
    _positional(w, 3, None, "lvmvol")
    if len(w) == 4 and w[2].isdigit() and w[3].isdigit():
        # Old format: <extents> <size in sectors>, and no layout (lvcreate -l made a linear LV).
        return LvmVol(vg=w[0], name=w[1], size=int(w[3]) * _SECTOR, layout=("linear",), legacy_extents=int(w[2]))
    if not w[2].endswith("b"):
        raise _FieldError(
            f"lvmvol size {w[2]!r} is neither '<bytes>b' (current format) nor '<extents> <sectors>' (old format)"
        )
    _positional(w, 4, None, "lvmvol")
    opts = _Options(w[4:], ":")

    def size_opt(key: str) -> int | None:
        value = opts.take(key)
        return None if value is None else _bytes_suffix(value, key)

    return LvmVol(
        vg=w[0],
        name=w[1],
        size=_bytes_suffix(w[2], "lvmvol size"),
        layout=tuple(w[3].split(",")),
        thinpool=opts.take("thinpool"),
        poolmetadatasize=size_opt("poolmetadatasize"),
        chunksize=size_opt("chunksize"),
        stripesize=size_opt("stripesize"),
        stripes=opts.take_int("stripes"),
        mirrors=opts.take_int("mirrors"),
        extra=opts.rest(),
    )


def _parse_crypt(w: list[str]) -> Crypt:
    _positional(w, 2, None, "crypt")
    opts = _Options(w[2:])
    type_text = opts.take("type")
    luks: LuksType | None = None
    if type_text:
        try:
            luks = LuksType(type_text)
        except ValueError:
            raise _FieldError(f"crypt type {type_text!r} is not one of luks1, luks2, plain") from None
    return Crypt(
        device=w[0],
        source=w[1],
        type=luks,
        cipher=opts.take("cipher"),
        key_size=opts.take_int("key_size"),
        hash=opts.take("hash"),
        uuid=opts.take("uuid"),
        pbkdf=opts.take("pbkdf"),
        keyfile=opts.take("keyfile"),
        password=opts.take("password"),
        extra=opts.rest(),
    )


def _parse_drbd(w: list[str]) -> Drbd:
    _positional(w, 3, 3, "drbd")
    return Drbd(device=w[0], resource=w[1], source=w[2])


def _reserved(value: str) -> ReservedBlocks:
    percent = value.endswith("%")
    try:
        amount = Decimal(value.removesuffix("%"))
    except InvalidOperation:
        raise _FieldError(f"reserved_blocks {value!r} is neither a percentage nor a block count") from None
    return ReservedBlocks(amount, percent)


def _parse_fs(w: list[str]) -> Fs:
    _positional(w, 3, None, "fs")
    try:
        fstype = FsType(w[2])
    except ValueError:
        names = ", ".join(t.value for t in FsType)
        raise _FieldError(f"file system type {w[2]!r} cannot be recreated (supported: {names})") from None
    opts = _Options(w[3:])
    reserved = opts.take("reserved_blocks")
    interval = opts.take("check_interval")
    return Fs(
        device=w[0],
        mountpoint=w[1],
        fstype=fstype,
        uuid=opts.take("uuid"),
        label=opts.take("label"),
        blocksize=opts.take_int("blocksize"),
        reserved_blocks=None if reserved is None else _reserved(reserved),
        max_mounts=opts.take_int("max_mounts"),
        check_interval_days=None if interval is None else _int(interval.removesuffix("d"), "check_interval"),
        bytes_per_inode=opts.take_int("bytes_per_inode"),
        default_mount_options=opts.take("default_mount_options"),
        nodesize=opts.take_int("nodesize"),
        sectorsize=opts.take_int("sectorsize"),
        features=opts.take("features"),
        options=opts.take("options"),
        extra=opts.rest(),
    )


def _subvol_parser(kind: BtrfsSubvolKind) -> Callable[[list[str]], Record]:
    def parse(w: list[str]) -> Record:
        _positional(w, 4, 4, kind.value.value)
        return BtrfsSubvol(kind, w[0], w[1], _int(w[2], "subvolume ID"), w[3])

    return parse


def _parse_mountedsubvol(w: list[str]) -> BtrfsMountedSubvol:
    _positional(w, 4, 4, "btrfsmountedsubvol")
    return BtrfsMountedSubvol(device=w[0], mountpoint=w[1], options=w[2], path=w[3])


def _parse_nocow(w: list[str]) -> BtrfsNoCopyOnWrite:
    _positional(w, 1, 1, "btrfsnocopyonwrite")
    return BtrfsNoCopyOnWrite(w[0])


def _parse_swap(w: list[str]) -> Swap:
    _positional(w, 1, None, "swap")
    opts = _Options(w[1:])
    return Swap(device=w[0], uuid=opts.take("uuid"), label=opts.take("label"), extra=opts.rest())


_PARSERS: dict[Keyword, Callable[[list[str]], Record]] = {
    Keyword.DISK: _parse_disk,
    Keyword.RAIDDISK: _parse_raiddisk,
    Keyword.PART: _parse_part,
    Keyword.RAIDARRAY: _parse_raidarray,
    Keyword.MULTIPATH: _parse_multipath,
    Keyword.LVMDEV: _parse_lvmdev,
    Keyword.LVMGRP: _parse_lvmgrp,
    Keyword.LVMVOL: _parse_lvmvol,
    Keyword.CRYPT: _parse_crypt,
    Keyword.DRBD: _parse_drbd,
    Keyword.FS: _parse_fs,
    Keyword.BTRFSDEFAULTSUBVOL: _subvol_parser(BtrfsSubvolKind.DEFAULT),
    Keyword.BTRFSNORMALSUBVOL: _subvol_parser(BtrfsSubvolKind.NORMAL),
    Keyword.BTRFSSNAPSHOTSUBVOL: _subvol_parser(BtrfsSubvolKind.SNAPSHOT),
    Keyword.BTRFSMOUNTEDSUBVOL: _parse_mountedsubvol,
    Keyword.BTRFSNOCOPYONWRITE: _parse_nocow,
    Keyword.SWAP: _parse_swap,
}


def parse_record(text: str) -> Record:
    """Parse one record line (without a leading `#`). Raises ValueError saying what is wrong."""
    words = text.split()
    if not words:
        raise ValueError("empty record")
    keyword = Keyword.lookup(words[0])
    if keyword is None or not keyword.is_typed:
        return Verbatim(words[0], tuple(words[1:]))
    try:
        return _PARSERS[keyword](words[1:])
    except _FieldError as exc:
        raise ValueError(str(exc)) from None


def _commented_record(line: str) -> Record | None:
    """`#keyword ...` (no blank after `#`, study §2.1) with a known keyword; None for other comments."""
    body = line[1:]
    if not body or body[0].isspace():
        return None
    if Keyword.lookup(body.split()[0]) is None:
        return None
    try:
        return parse_record(body)
    except ValueError:
        # A commented-out line is not binding; one we cannot parse stays a plain comment.
        return None


def parse_layout(text: str, source: str = DEFAULT_NAME) -> Layout:
    """Parse the text of a disklayout.conf; `source` names the file in error messages."""
    header: list[str] = []
    items: list[Item] = []
    in_header = True
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("#"):
            record = _commented_record(line)
            if record is not None:
                items.append(Entry(record, excluded=True, line=number))
                in_header = False
            elif _is_generated(line):
                in_header = False
            elif in_header:
                header.append(line)
            else:
                items.append(Note(line))
            continue
        if not line.strip():
            if in_header:
                header.append(line)
            else:
                items.append(Note(line))
            continue
        in_header = False
        if line[0].isspace():
            raise _error(source, number, line, "a record must start at the beginning of the line")
        try:
            record = parse_record(line)
        except ValueError as exc:
            raise _error(source, number, line, str(exc)) from None
        items.append(Entry(record, line=number))
    return Layout(items=tuple(items), header=tuple(header), source=source)


def _error(source: str, number: int, line: str, what: str) -> UserError:
    return UserError(
        f"{source}:{number}: {what}: {line.strip()!r}",
        hint=f"correct line {number} of {source} (see the '# Format:' comment of that record type), "
        "or re-run `rearbuild savelayout` to write the file anew",
    )


def read_layout(path: Path) -> Layout:
    """Read a disklayout.conf file."""
    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError as exc:
        raise UserError(
            f"cannot read the disk layout {path}: {exc.strerror}",
            hint="run `rearbuild savelayout` to create it",
        ) from exc
    return parse_layout(text, source=str(path))


# ---------------------------------------------------------------------------------------------------------
# What nothing can recreate


@dataclass(frozen=True)
class Unsupported:
    """An active record no generator can recreate, and why."""

    entry: Entry
    reason: str

    def describe(self, source: str = DEFAULT_NAME) -> str:
        where = f"{source}:{self.entry.line}: " if self.entry.line is not None else ""
        return f"{where}{self.reason}: {format_record(self.entry.record)!r}"


def unsupported(layout: Layout, creatable: Collection[Keyword] | None = None) -> tuple[Unsupported, ...]:
    """Active records with an unknown keyword, or (when `creatable` is given) a keyword not in it."""
    found: list[Unsupported] = []
    for entry in layout.entries:
        if entry.excluded:
            continue
        keyword = keyword_of(entry.record)
        if keyword is None:
            word = entry.record.word if isinstance(entry.record, Verbatim) else "?"
            found.append(Unsupported(entry, f"unknown keyword {word!r}"))
        elif creatable is not None and keyword not in creatable:
            found.append(Unsupported(entry, f"no code recreates a {keyword.value} record"))
    return tuple(found)


def require_supported(layout: Layout, creatable: Collection[Keyword] | None = None) -> None:
    """Raise a UserError listing every active record that could not be recreated."""
    problems = unsupported(layout, creatable)
    if problems:
        listing = "; ".join(p.describe(layout.source) for p in problems)
        raise UserError(
            f"the disk layout has components that cannot be recreated: {listing}",
            hint="exclude them with EXCLUDE_RECREATE (or comment the lines out) if the recovery does not need them",
        )
