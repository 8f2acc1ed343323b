"""The LVM records: lvmdev (physical volumes), lvmgrp (volume groups) and lvmvol (logical volumes)."""

from __future__ import annotations

from collections.abc import Iterator

from rearbuild.layout.model import Keyword, LvmDev, LvmGrp, LvmVol
from rearbuild.layout.spec.base import Edge, Neighbours, RecordSpec
from rearbuild.layout.spec.fields import (
    FieldError,
    Opt,
    Options,
    bytes_suffix,
    format_opts,
    int_opt,
    is_whole,
    opt,
    positional,
    to_int,
)

# Old lvmvol lines give the size in 512-byte sectors (`lvdisplay -c` field 7, lvdisplay(8)).
_SECTOR = 512

# ---------------------------------------------------------------------------------------------------------
# lvmdev


def _parse_lvmdev(w: list[str]) -> LvmDev:
    positional(w, 2, 4, "lvmdev")
    return LvmDev(
        vg=w[0],
        device=w[1],
        uuid=w[2] if len(w) > 2 else None,
        size=to_int(w[3], "PV size") if len(w) > 3 else None,
    )


def _write_lvmdev(record: LvmDev) -> list[str]:
    words = ["lvmdev", record.vg, record.device]
    if record.uuid is not None:
        words.append(record.uuid)
        if record.size is not None:
            words.append(str(record.size))
    return words


def _lvmdev_edges(name: str, record: LvmDev, around: Neighbours) -> Iterator[Edge]:
    yield record.vg, name
    yield name, record.device


LVMDEV = RecordSpec[LvmDev](
    Keyword.LVMDEV,
    parse=_parse_lvmdev,
    write=_write_lvmdev,
    comments=(
        "# Format for LVM PVs",
        "# lvmdev <volume_group> <device> [<uuid>] [<size(bytes)>]",
    ),
    generated=("# lvmdev <",),
    component=lambda r: f"pv:{r.device}",
    edges=_lvmdev_edges,
)

# ---------------------------------------------------------------------------------------------------------
# lvmgrp


def _parse_lvmgrp(w: list[str]) -> LvmGrp:
    positional(w, 2, 4, "lvmgrp")
    return LvmGrp(
        vg=w[0],
        extent_size_kib=to_int(w[1], "extent size"),
        extents=to_int(w[2], "extent count") if len(w) > 2 else None,
        size_kib=to_int(w[3], "VG size") if len(w) > 3 else None,
    )


def _write_lvmgrp(record: LvmGrp) -> list[str]:
    words = ["lvmgrp", record.vg, str(record.extent_size_kib)]
    if record.extents is not None:
        words.append(str(record.extents))
        if record.size_kib is not None:
            words.append(str(record.size_kib))
    return words


LVMGRP = RecordSpec[LvmGrp](
    Keyword.LVMGRP,
    parse=_parse_lvmgrp,
    write=_write_lvmgrp,
    comments=(
        "# Format for LVM VGs",
        "# lvmgrp <volume_group> <extentsize> [<size(extents)>] [<size(bytes)>]",
    ),
    generated=("# lvmgrp <",),
    component=lambda r: r.vg,
)

# ---------------------------------------------------------------------------------------------------------
# lvmvol


def _size_opt(key: str) -> Opt:
    """A size in bytes, written `<n>b` like `lvs --units b`."""
    return Opt(key, key, bytes_suffix, lambda size: f"{size}b")


_LVMVOL_OPTS = (
    opt("thinpool"),
    _size_opt("poolmetadatasize"),
    _size_opt("chunksize"),
    _size_opt("stripesize"),
    int_opt("stripes"),
    int_opt("mirrors"),
)


def _parse_lvmvol(w: list[str]) -> LvmVol:
    positional(w, 3, None, "lvmvol")
    if len(w) == 4 and is_whole(w[2]) and is_whole(w[3]):
        # Old format: <extents> <size in sectors>, and no layout (lvcreate -l made a linear LV).
        return LvmVol(vg=w[0], name=w[1], size=int(w[3]) * _SECTOR, layout=("linear",), legacy_extents=int(w[2]))
    if not w[2].endswith("b"):
        raise FieldError(
            f"lvmvol size {w[2]!r} is neither '<bytes>b' (current format) nor '<extents> <sectors>' (old format)"
        )
    positional(w, 4, None, "lvmvol")
    opts = Options(w[4:], ":")
    return LvmVol(
        vg=w[0],
        name=w[1],
        size=bytes_suffix(w[2], "lvmvol size"),
        layout=tuple(w[3].split(",")),
        **opts.take_all(_LVMVOL_OPTS),
        extra=opts.rest(),
    )


def _write_lvmvol(record: LvmVol) -> list[str]:
    return [
        "lvmvol",
        record.vg,
        record.name,
        f"{record.size}b",
        ",".join(record.layout),
        *format_opts(record, _LVMVOL_OPTS, record.extra, ":"),
    ]


def _lvmvol_edges(name: str, record: LvmVol, around: Neighbours) -> Iterator[Edge]:
    yield name, record.vg
    if record.thinpool is not None:
        pool = LvmVol(vg=record.vg, name=record.thinpool, size=0).mapper_device
        yield name, pool


LVMVOL = RecordSpec[LvmVol](
    Keyword.LVMVOL,
    parse=_parse_lvmvol,
    write=_write_lvmvol,
    comments=(
        "# Format for LVM LVs",
        "# lvmvol <volume_group> <name> <size(bytes)> <layout> [key:value ...]",
    ),
    generated=("# lvmvol <",),
    component=lambda r: r.mapper_device,
    edges=_lvmvol_edges,
)
