"""The records of devices built on other block devices: raidarray (md), crypt (LUKS) and drbd."""

from __future__ import annotations

from rearbuild.layout.model import Crypt, Drbd, Keyword, LuksType, RaidArray
from rearbuild.layout.spec.base import RecordSpec
from rearbuild.layout.spec.fields import FieldError, Opt, Options, format_opts, int_opt, opt, positional, to_int

# ---------------------------------------------------------------------------------------------------------
# raidarray (read also from `raid`, its name before ReaR PR #2800: see Keyword.lookup)

_RAID_OPTS = (
    opt("name"),
    opt("metadata"),
    opt("uuid"),
    opt("layout"),
    opt("chunk"),
    int_opt("spare-devices", "spare_devices"),
    opt("size"),
)


def _parse_raidarray(w: list[str]) -> RaidArray:
    positional(w, 1, None, "raidarray")
    opts = Options(w[1:])
    level = opts.take("level")
    devices_text = opts.take("devices")
    if level is None or devices_text is None:
        raise FieldError("raidarray record needs level= and devices=")
    devices = tuple(d for d in devices_text.split(",") if d)
    raid_devices = opts.take("raid-devices")
    return RaidArray(
        device=w[0],
        level=level,
        raid_devices=len(devices) if raid_devices is None else to_int(raid_devices, "raid-devices"),
        devices=devices,
        **opts.take_all(_RAID_OPTS),
        extra=opts.rest(),
    )


def _write_raidarray(record: RaidArray) -> list[str]:
    return [
        "raidarray",
        record.device,
        f"level={record.level}",
        f"raid-devices={record.raid_devices}",
        "devices=" + ",".join(record.devices),
        *format_opts(record, _RAID_OPTS, record.extra),
    ]


RAIDARRAY = RecordSpec[RaidArray](
    Keyword.RAIDARRAY,
    parse=_parse_raidarray,
    write=_write_raidarray,
    comments=(
        "# Software RAID devices (mdadm)",
        "# Format: raidarray /dev/<kernel RAID device> level=<RAID level> "
        "raid-devices=<nr of active devices> devices=<component device1,component device2,...> "
        "[name=<array name>] [metadata=<metadata style>] [uuid=<UUID>] [layout=<data layout>] "
        "[chunk=<chunk size>] [spare-devices=<nr of spare devices>] [size=<container size>]",
    ),
    generated=("# Software RAID devices",),
    component=lambda r: r.device,
    edges=lambda name, r, around: [(name, member) for member in r.devices],
)

# ---------------------------------------------------------------------------------------------------------
# crypt


def _luks(value: str, key: str) -> LuksType | None:
    # `type=` (empty) is read as no type, like a missing option.
    if not value:
        return None
    try:
        return LuksType(value)
    except ValueError:
        raise FieldError(f"crypt type {value!r} is not one of luks1, luks2, plain") from None


_CRYPT_OPTS = (
    Opt("type", "type", _luks, lambda t: t.value),
    opt("cipher"),
    int_opt("key_size"),
    opt("hash"),
    opt("uuid"),
    opt("pbkdf"),
    opt("keyfile"),
    opt("password"),
)


def _parse_crypt(w: list[str]) -> Crypt:
    positional(w, 2, None, "crypt")
    opts = Options(w[2:])
    return Crypt(device=w[0], source=w[1], **opts.take_all(_CRYPT_OPTS), extra=opts.rest())


CRYPT = RecordSpec[Crypt](
    Keyword.CRYPT,
    parse=_parse_crypt,
    write=lambda r: ["crypt", r.device, r.source, *format_opts(r, _CRYPT_OPTS, r.extra)],
    comments=(
        "# LUKS devices",
        "# Format: crypt /dev/mapper/<name> <device> [type=<type>] [cipher=<cipher>] "
        "[key_size=<key size>] [hash=<hash function>] [uuid=<uuid>] [pbkdf=<pbkdf algo>] "
        "[keyfile=<keyfile>] [password=<password>]",
    ),
    generated=("# LUKS devices",),
    component=lambda r: r.device,
    edges=lambda name, r, around: [(name, r.source)],
)

# ---------------------------------------------------------------------------------------------------------
# drbd


def _parse_drbd(w: list[str]) -> Drbd:
    positional(w, 3, 3, "drbd")
    return Drbd(device=w[0], resource=w[1], source=w[2])


DRBD = RecordSpec[Drbd](
    Keyword.DRBD,
    parse=_parse_drbd,
    write=lambda r: ["drbd", r.device, r.resource, r.source],
    comments=(
        "# DRBD devices",
        "# Format: drbd /dev/drbd<nr> <drbd resource name> <device>",
    ),
    generated=("# DRBD devices",),
    component=lambda r: r.device,
    edges=lambda name, r, around: [(name, r.source)],
)
