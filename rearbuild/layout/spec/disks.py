"""The records of devices that carry a partition table: disk, raiddisk, multipath, and their part records."""

from __future__ import annotations

from collections.abc import Iterator

from rearbuild.layout.model import Disk, Keyword, Multipath, Part, RaidDisk
from rearbuild.layout.partitions import LabelType, PartFlag
from rearbuild.layout.spec.base import Edge, Group, Neighbours, RecordSpec
from rearbuild.layout.spec.fields import (
    FieldError,
    Options,
    format_opts,
    int_opt,
    label,
    opt,
    positional,
    to_int,
)

_NO_PARTUUID = "no-partuuid"

# ---------------------------------------------------------------------------------------------------------
# disk

_DISK_OPTS = (opt("gpt_guid"), int_opt("first_lba", "first_usable_lba"))


def _parse_disk(w: list[str]) -> Disk:
    positional(w, 3, None, "disk")
    kind = label(w[2])
    rest = w[3:]
    dasd: tuple[str, ...] = ()
    if kind is LabelType.DASD:
        # s390: <logical block size> <DASD layout> <DASD type> <size(cylinders)> (200_partition_layout.sh)
        dasd = tuple(rest[:4])
        rest = rest[4:]
    opts = Options(rest)
    return Disk(
        device=w[0],
        size=to_int(w[1], "disk size"),
        label=kind,
        dasd_fields=dasd,
        **opts.take_all(_DISK_OPTS),
        extra=opts.rest(),
    )


def _write_disk(record: Disk) -> list[str]:
    words = ["disk", record.device, str(record.size), record.label.value, *record.dasd_fields]
    return [*words, *format_opts(record, _DISK_OPTS, record.extra)]


def _disk_group(record: Disk) -> Group:
    return ("disk", record.device), (
        f"# Disk {record.device}",
        "# Format: disk <devname> <size(bytes)> <partition label type>",
    )


def _disk_edges(name: str, record: Disk, around: Neighbours) -> Iterator[Edge]:
    # An OPAL self-encrypting disk is unlocked (opaldisk) before its partition table is written.
    if f"opaldisk:{record.device}" in around.names:
        yield name, f"opaldisk:{record.device}"
    if f"logicaldrive:{record.device}" in around.names:
        yield name, f"logicaldrive:{record.device}"


DISK = RecordSpec[Disk](
    Keyword.DISK,
    parse=_parse_disk,
    write=_write_disk,
    grouping=_disk_group,
    generated=("# Disk /", "# Disk _REAR"),
    component=lambda r: r.device,
    edges=_disk_edges,
)

# ---------------------------------------------------------------------------------------------------------
# raiddisk


def _parse_raiddisk(w: list[str]) -> RaidDisk:
    positional(w, 3, 3, "raiddisk")
    return RaidDisk(device=w[0], size=to_int(w[1], "raiddisk size"), label=label(w[2]))


def _raiddisk_group(record: RaidDisk) -> Group:
    return ("raiddisk", record.device), (
        f"# RAID disk {record.device}",
        "# Format: raiddisk <devname> <size(bytes)> <partition label type>",
    )


RAIDDISK = RecordSpec[RaidDisk](
    Keyword.RAIDDISK,
    parse=_parse_raiddisk,
    write=lambda r: ["raiddisk", r.device, str(r.size), r.label.value],
    grouping=_raiddisk_group,
    generated=("# RAID disk ",),
    component=lambda r: f"raiddisk:{r.device}",
    edges=lambda name, r, around: [(name, r.device)],
)

# ---------------------------------------------------------------------------------------------------------
# part

_PART_OPTS = (opt("gpt_type"),)


def _parse_part(w: list[str]) -> Part:
    partuuid: str | None = None
    extras = w[6:]
    if extras and "=" not in extras[0]:
        # The 7th field, the PARTUUID, exists only in files written since ReaR's 2025-10 master.
        partuuid, extras = extras[0], extras[1:]
    positional(w[: len(w) - len(extras)], 6, 7, "part")
    try:
        flags = PartFlag.parse_list(w[4])
    except ValueError as exc:
        raise FieldError(str(exc)) from None
    opts = Options(extras)
    return Part(
        disk=w[0],
        size=to_int(w[1], "partition size"),
        start=to_int(w[2], "partition start"),
        name=w[3],
        flags=flags,
        device=w[5],
        partuuid=None if partuuid == _NO_PARTUUID else partuuid,
        **opts.take_all(_PART_OPTS),
        extra=opts.rest(),
    )


def _write_part(record: Part) -> list[str]:
    return [
        "part",
        record.disk,
        str(record.size),
        str(record.start),
        record.name,
        PartFlag.format_list(record.flags),
        record.device,
        record.partuuid or _NO_PARTUUID,
        *format_opts(record, _PART_OPTS, record.extra),
    ]


def _part_group(record: Part) -> Group:
    return ("part", record.disk), (
        f"# Partitions on {record.disk}",
        "# Format: part <device> <partition size(bytes)> <partition start(bytes)> "
        "<partition type|name> <flags> /dev/<partition> <partition uuid|no-partuuid>",
    )


def _part_edges(name: str, record: Part, around: Neighbours) -> Iterator[Edge]:
    yield name, record.disk
    if record.disk in around.raiddisks:
        yield name, f"raiddisk:{record.disk}"


PART = RecordSpec[Part](
    Keyword.PART,
    parse=_parse_part,
    write=_write_part,
    grouping=_part_group,
    generated=("# Partitions on ",),
    component=lambda r: r.device,
    edges=_part_edges,
)

# ---------------------------------------------------------------------------------------------------------
# multipath


def _parse_multipath(w: list[str]) -> Multipath:
    positional(w, 4, 4, "multipath")
    return Multipath(
        device=w[0],
        size=to_int(w[1], "multipath size"),
        label=label(w[2]),
        slaves=tuple(s for s in w[3].split(",") if s),
    )


def _slave_devices(record: Multipath) -> tuple[str, ...]:
    # ReaR writes multipath slaves as kernel names (sda,sdb); the disk components are /dev paths.
    return tuple(slave if slave.startswith("/") else f"/dev/{slave}" for slave in record.slaves)


MULTIPATH = RecordSpec[Multipath](
    Keyword.MULTIPATH,
    parse=_parse_multipath,
    write=lambda r: ["multipath", r.device, str(r.size), r.label.value, ",".join(r.slaves)],
    comments=(
        "# Multipath devices",
        "# Format: multipath <devname> <size(bytes)> <partition label type> <slaves>",
    ),
    generated=("# Multipath devices",),
    component=lambda r: r.device,
    edges=lambda name, r, around: [(name, slave) for slave in _slave_devices(r)],
    external=_slave_devices,
)
