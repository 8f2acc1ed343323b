"""Capture of the mounted file systems (with ext attributes, btrfs subvolumes, xfs_info) and active swap."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from rearbuild.collect.disk import blockfacts as bf
from rearbuild.collect.disk import fsfacts as ff
from rearbuild.collect.disk.facts import Facts
from rearbuild.layout.model import BtrfsMountedSubvol, BtrfsSubvol, BtrfsSubvolKind, Entry, Fs, FsType, Item, Swap

log = logging.getLogger("rearbuild.collect.disk.filesystems")


@dataclass(frozen=True)
class Unrecreatable:
    """A mounted file system of a type nothing recreates."""

    device: str
    mountpoint: str
    fstype: str

    @property
    def component(self) -> str:
        return f"fs:{self.mountpoint}"

    def describe(self) -> str:
        return f"{self.fstype} on {self.device} mounted at {self.mountpoint}"



def fs_type(text: str) -> FsType | None:
    try:
        return FsType(text)
    except ValueError:
        return None


def file_systems(facts: Facts) -> tuple[list[Item], dict[str, str], tuple[Unrecreatable, ...]]:
    by_device: dict[str, list[bf.Mount]] = {}
    for mount in facts.mounts:
        if not mount.source.startswith("/dev/"):
            continue
        by_device.setdefault(facts.name(mount.source), []).append(mount)
    items: list[Item] = []
    xfs: dict[str, str] = {}
    problems: list[Unrecreatable] = []
    for device, mounts in by_device.items():
        # The mount closest to / is the file system's; further ones are bind mounts or btrfs subvolumes.
        main = min(mounts, key=lambda m: (m.target.count("/") if m.target != "/" else 0, len(m.target)))
        fstype = fs_type(main.fstype)
        if fstype is None:
            problems.append(Unrecreatable(device, main.target, main.fstype))
            continue
        uuid, label = facts.uuid_label(device)
        fs = Fs(device, main.target, fstype, uuid=uuid, label=label, options=main.options)
        if fstype.is_ext:
            fs = _ext(facts, fs)
        elif fstype is FsType.BTRFS:
            fs = _btrfs_super(facts, fs)
        elif fstype is FsType.XFS:
            info = facts.probe.command(ff.xfs_info_argv(main.target))
            if info is not None:
                xfs[device] = info
        items.append(Entry(fs))
        if fstype is FsType.BTRFS:
            items += _btrfs_subvolumes(facts, fs, mounts)
    return items, xfs, tuple(problems)


def _ext(facts: Facts, fs: Fs) -> Fs:
    text = facts.probe.command(ff.tune2fs_argv(fs.device))
    if text is None:
        log.warning("tune2fs -l %s failed; %s is recorded without its mkfs attributes", fs.device, fs.mountpoint)
        return fs
    a = ff.parse_tune2fs(text)
    return replace(
        fs,
        blocksize=a.blocksize,
        reserved_blocks=a.reserved_blocks,
        max_mounts=a.max_mounts,
        check_interval_days=a.check_interval_days,
        bytes_per_inode=a.bytes_per_inode,
        default_mount_options=a.default_mount_options,
    )


def _btrfs_super(facts: Facts, fs: Fs) -> Fs:
    text = facts.probe.command(ff.btrfs_super_argv(fs.device))
    if text is None:
        return fs
    s = ff.parse_btrfs_super(text)
    return replace(fs, nodesize=s.nodesize, sectorsize=s.sectorsize)


def _btrfs_subvolumes(facts: Facts, fs: Fs, mounts: list[bf.Mount]) -> list[Item]:
    items: list[Item] = []
    default_text = facts.probe.command(ff.btrfs_default_argv(fs.mountpoint))
    default = ff.parse_btrfs_default(default_text) if default_text is not None else None
    if default is not None:
        items.append(Entry(BtrfsSubvol(BtrfsSubvolKind.DEFAULT, fs.device, fs.mountpoint, default[0], default[1])))
    list_text = facts.probe.command(ff.btrfs_list_argv(fs.mountpoint))
    subvols = ff.parse_btrfs_list(list_text) if list_text is not None else ()
    # ReaR writes snapshots commented out: restoring a backup cannot recreate them as snapshots.
    for sv in subvols:
        if sv.snapshot:
            items.append(Entry(BtrfsSubvol(BtrfsSubvolKind.SNAPSHOT, fs.device, fs.mountpoint, sv.id, sv.path), True))
    for sv in subvols:
        if not sv.snapshot and (default is None or sv.id != default[0]):
            items.append(Entry(BtrfsSubvol(BtrfsSubvolKind.NORMAL, fs.device, fs.mountpoint, sv.id, sv.path)))
    for mount in sorted(mounts, key=lambda m: m.target):
        path = mount.fsroot.strip("/") or "/"
        items.append(Entry(BtrfsMountedSubvol(fs.device, mount.target, mount.options, path)))
    return items


def swaps(facts: Facts) -> list[Item]:
    text = facts.probe.read(bf.PROC_SWAPS)
    if text is None:
        return []
    items: list[Item] = []
    for swap in bf.parse_proc_swaps(text):
        if swap.kind != "partition":
            log.info("swap file %s is not part of the disk layout", swap.device)
            continue
        device = facts.name(swap.device)
        uuid, label = facts.uuid_label(device)
        items.append(Entry(Swap(device, uuid=uuid, label=label)))
    return items
