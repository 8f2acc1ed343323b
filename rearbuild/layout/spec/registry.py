"""Every keyword's record specification, looked up by keyword or by record."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rearbuild.layout.model import Keyword, Record
from rearbuild.layout.spec import disks, filesystems, lvm, stacked, verbatim
from rearbuild.layout.spec.base import RecordSpec

_ALL: tuple[RecordSpec[Any], ...] = (
    disks.DISK,
    disks.PART,
    stacked.RAIDARRAY,
    disks.RAIDDISK,
    disks.MULTIPATH,
    lvm.LVMDEV,
    lvm.LVMGRP,
    lvm.LVMVOL,
    stacked.CRYPT,
    stacked.DRBD,
    filesystems.FS,
    *filesystems.BTRFS_SUBVOLS,
    filesystems.BTRFSMOUNTEDSUBVOL,
    filesystems.BTRFSNOCOPYONWRITE,
    filesystems.SWAP,
    verbatim.SMARTARRAY,
    verbatim.LOGICALDRIVE,
    verbatim.OPALDISK,
    verbatim.DASD_CHANNEL,
)

SPECS: Mapping[Keyword, RecordSpec[Any]] = {spec.keyword: spec for spec in _ALL if spec.keyword is not None}

# Prefixes of every group comment line any writer (ours, every ReaR version) puts above a group.
GENERATED_PREFIXES: tuple[str, ...] = ("# Format", *(p for spec in SPECS.values() for p in spec.generated))


def spec_of(record: Record) -> RecordSpec[Any]:
    """The specification a record is written by (the verbatim catch-all for an unknown keyword)."""
    keyword = record.keyword
    return verbatim.UNKNOWN if keyword is None else SPECS[keyword]
