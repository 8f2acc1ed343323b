"""Capture the disk layout of a running system: disks, partitions, MD, LVM, LUKS, file systems, swap.

`capture(probe)` asks the tools through a Probe (the host, or a recording in tests) and assembles the
records of rearbuild.layout.model in ReaR's file order: disks with their partitions, RAID arrays, LUKS
mappings, LVM (PVs, VGs, LVs), file systems with their btrfs subvolumes, swap. Whatever cannot be read (a
device we may not open, a missing tool, a device that vanished between two calls) is logged and left out;
the capture never raises for it. Mounted file systems whose type nothing can recreate are returned in
`Capture.unrecreatable` so that the caller decides (ReaR silently leaves them out; we refuse unless the user
excluded them).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field

from rearbuild.collect.disk import blockfacts as bf
from rearbuild.collect.disk.disks import disks_and_partitions
from rearbuild.collect.disk.facts import Facts
from rearbuild.collect.disk.filesystems import Unrecreatable, file_systems, swaps
from rearbuild.collect.disk.probe import Probe
from rearbuild.collect.disk.stacks import crypt_mappings, lvm_volumes, raid_arrays
from rearbuild.errors import UserError
from rearbuild.layout.model import Item, Layout

log = logging.getLogger("rearbuild.collect.disk.capture")


@dataclass(frozen=True)
class Capture:
    layout: Layout
    # xfs_info of every xfs by device, for ReaR's layout/xfs/<name>.xfs companion files.
    xfs_info: dict[str, str] = field(default_factory=dict)
    unrecreatable: tuple[Unrecreatable, ...] = ()
    skipped_disks: tuple[str, ...] = ()



def capture(probe: Probe, *, extra_disks: Collection[str] = ()) -> Layout:
    """The layout of the system the probe describes. extra_disks: devices to treat as disks although lsblk
    calls them otherwise (loop devices in tests)."""
    return capture_all(probe, extra_disks=extra_disks).layout


def capture_all(probe: Probe, *, extra_disks: Collection[str] = ()) -> Capture:
    lsblk = probe.command(bf.LSBLK)
    if lsblk is None:
        raise UserError(
            "cannot list the block devices (lsblk failed), so the disk layout cannot be captured",
            hint="install util-linux and run as root; the log file says why lsblk failed",
        )
    blkid = probe.command(bf.BLKID)
    findmnt = probe.command(bf.FINDMNT)
    if findmnt is None:
        log.warning("findmnt failed: the layout will have no file systems")
    facts = Facts(
        probe,
        bf.parse_lsblk(lsblk),
        bf.parse_blkid_export(blkid) if blkid is not None else {},
        bf.parse_findmnt(findmnt) if findmnt is not None else (),
    )
    items: list[Item] = []
    disks, skipped = disks_and_partitions(facts, set(extra_disks))
    items += disks
    items += raid_arrays(facts)
    items += crypt_mappings(facts)
    items += lvm_volumes(facts)
    fs_items, xfs_info, unrecreatable = file_systems(facts)
    items += fs_items
    items += swaps(facts)
    return Capture(Layout(items=tuple(items)), xfs_info, unrecreatable, skipped)
