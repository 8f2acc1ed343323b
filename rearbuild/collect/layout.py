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
import re
from collections.abc import Collection
from dataclasses import dataclass, field, replace

from rearbuild.collect import blockfacts as bf
from rearbuild.collect import fsfacts as ff
from rearbuild.collect import stackfacts as sf
from rearbuild.collect.probe import Probe
from rearbuild.errors import UserError
from rearbuild.layout.model import (
    BtrfsMountedSubvol,
    BtrfsSubvol,
    BtrfsSubvolKind,
    Crypt,
    Disk,
    Entry,
    Fs,
    FsType,
    Item,
    LabelType,
    Layout,
    LuksType,
    LvmDev,
    LvmGrp,
    LvmVol,
    Note,
    Part,
    PartFlag,
    RaidArray,
    Record,
    Swap,
)

log = logging.getLogger("rearbuild.collect.layout")

# Kernel block devices that are never disks of the system (ReaR scans /sys/block/{hd,sd,vd,xvd,nvme,...}*).
_NOT_DISKS = re.compile(r"^/dev/(ram|zram|loop|sr|fd|nbd)\d")
# The rescue medium carries an ISO 9660 file system or ReaR's USB data partition label (REAR-000).
_RESCUE_LABEL = "REAR-000"
_RESCUE_FSTYPES = frozenset({"iso9660", "udf"})
# 512-byte sectors: lvmdev's size field, `pvdisplay -c` field 3 (see LvmDev).
_SECTOR = 512
_KIB = 1024
# GPT names cannot hold blanks in disklayout.conf (no quoting, study §2.1); an empty name gets ReaR's
# placeholder so that the field is not empty.
_NONAME = "rear-noname"

# GPT partition type GUIDs (UEFI spec §5.3.3, Discoverable Partitions Specification) -> parted's flags.
_GPT_FLAGS: dict[str, frozenset[PartFlag]] = {
    "21686148-6449-6E6F-744E-656564454649": frozenset({PartFlag.BIOS_GRUB}),
    # parted reports the ESP as "boot, esp" on GPT (parted(8): boot is an alias of esp there).
    "C12A7328-F81F-11D2-BA4B-00A0C93EC93B": frozenset({PartFlag.BOOT, PartFlag.ESP}),
    "E6D6D379-F507-44C2-A23C-238F2A3DF928": frozenset({PartFlag.LVM}),
    "A19D880F-05FC-4D3B-A006-743F0F84911E": frozenset({PartFlag.RAID}),
    "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F": frozenset({PartFlag.SWAP}),
    "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7": frozenset({PartFlag.MSFTDATA}),
    "E3C9E316-0B5C-4DB8-817D-F92DF00215AE": frozenset({PartFlag.MSFTRES}),
    "DE94BBA4-06D1-4D40-A16A-BFD50179D6AC": frozenset({PartFlag.DIAG}),
    "9E1A2D38-C612-4316-AA26-8B49521E5A8B": frozenset({PartFlag.PREP}),
    "933AC7E1-2EB4-4F13-B844-0E14E2AEF915": frozenset({PartFlag.LINUX_HOME}),
}
# MBR system ids (sfdisk -T) -> parted's flags.
_MSDOS_FLAGS: dict[str, frozenset[PartFlag]] = {
    "8e": frozenset({PartFlag.LVM}),
    "fd": frozenset({PartFlag.RAID}),
    "82": frozenset({PartFlag.SWAP}),
    "ef": frozenset({PartFlag.ESP}),
    "41": frozenset({PartFlag.PREP}),
    "de": frozenset({PartFlag.DIAG}),
}
# Extended partition ids: DOS (05), Windows LBA (0f), Linux (85).
_MSDOS_EXTENDED = frozenset({"5", "f", "85"})
# The first logical partition is number 5 on an msdos disk (sfdisk(8)).
_FIRST_LOGICAL = 5
# GPT attribute bit 2, "LegacyBIOSBootable" (UEFI spec §5.3.3 table 5-8), is parted's legacy_boot.
_LEGACY_BOOT_ATTR = "LegacyBIOSBootable"


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


@dataclass(frozen=True)
class Capture:
    layout: Layout
    # xfs_info of every xfs by device, for ReaR's layout/xfs/<name>.xfs companion files.
    xfs_info: dict[str, str] = field(default_factory=dict)
    unrecreatable: tuple[Unrecreatable, ...] = ()
    skipped_disks: tuple[str, ...] = ()


@dataclass
class _Facts:
    """The parsed tool outputs capture combines, with lookups by name."""

    probe: Probe
    devices: tuple[bf.BlockDev, ...]
    superblocks: dict[str, bf.Superblock]
    mounts: tuple[bf.Mount, ...]
    by_name: dict[str, bf.BlockDev] = field(default_factory=dict)
    canonical: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for dev in self.devices:
            self.by_name.setdefault(dev.name, dev)
            self.canonical.setdefault(dev.name, dev.name)
            self.canonical.setdefault(dev.kname, dev.name)

    def name(self, device: str) -> str:
        """lsblk's name for a device path (/dev/dm-2 -> /dev/mapper/vg0-swap)."""
        return self.canonical.get(device, device)

    def parents(self, device: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.name(d.parent) for d in self.devices if d.name == device and d.parent))

    def children(self, device: str) -> tuple[bf.BlockDev, ...]:
        seen: dict[str, bf.BlockDev] = {}
        for d in self.devices:
            if d.parent is not None and self.name(d.parent) == device:
                seen.setdefault(d.name, d)
        return tuple(seen.values())

    def of_kind(self, kind: bf.DevKind) -> tuple[bf.BlockDev, ...]:
        return tuple(d for name, d in self.by_name.items() if d.kind is kind)

    def superblock(self, device: str) -> bf.Superblock | None:
        dev = self.by_name.get(device)
        for key in (device, dev.kname if dev else None):
            if key is not None and key in self.superblocks:
                return self.superblocks[key]
        return None

    def fstype(self, device: str) -> str | None:
        sb = self.superblock(device)
        if sb is not None and sb.type:
            return sb.type
        dev = self.by_name.get(device)
        if dev is not None and dev.fstype:
            return dev.fstype
        return next((m.fstype for m in self.mounts if self.name(m.source) == device), None)

    def uuid_label(self, device: str) -> tuple[str | None, str]:
        sb = self.superblock(device)
        dev = self.by_name.get(device)
        uuid = (sb.uuid if sb else None) or (dev.uuid if dev else None)
        label = (sb.label if sb else None) or (dev.label if dev else None)
        return uuid, label or ""


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
    facts = _Facts(
        probe,
        bf.parse_lsblk(lsblk),
        bf.parse_blkid_export(blkid) if blkid is not None else {},
        bf.parse_findmnt(findmnt) if findmnt is not None else (),
    )
    items: list[Item] = []
    disks, skipped = _disks(facts, set(extra_disks))
    items += disks
    items += _raid(facts)
    items += _crypt(facts)
    items += _lvm(facts)
    fs_items, xfs_info, unrecreatable = _filesystems(facts)
    items += fs_items
    items += _swap(facts)
    return Capture(Layout(items=tuple(items)), xfs_info, unrecreatable, skipped)


def _entry(record: Record, excluded: bool = False) -> Entry:
    return Entry(record, excluded)


# ---------------------------------------------------------------------------------------------------------
# Disks and partitions


def _is_rescue_medium(facts: _Facts, disk: bf.BlockDev) -> bool:
    for dev in (disk, *facts.children(disk.name)):
        _, label = facts.uuid_label(dev.name)
        if label == _RESCUE_LABEL or (facts.fstype(dev.name) or "") in _RESCUE_FSTYPES:
            return True
    return False


def _disks(facts: _Facts, extra: set[str]) -> tuple[list[Item], tuple[str, ...]]:
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


def _disk(facts: _Facts, dev: bf.BlockDev) -> list[Item]:
    text = facts.probe.command(bf.sfdisk_argv(dev.name))
    table = bf.parse_sfdisk(text, dev.name, dev.sector_size) if text is not None else None
    if table is None:
        partitions = [c for c in facts.children(dev.name) if c.kind is bf.DevKind.PART]
        if partitions:
            # Partitions exist but the table could not be read (e.g. EPERM): recreating the disk from
            # a guess would destroy data, so it is recorded without partitions and marked in a note.
            log.warning("cannot read the partition table of %s; its partitions are not in the layout", dev.name)
            note = Note(f"# The partition table of {dev.name} could not be read; its partitions are missing.")
            return [note, _entry(Disk(dev.name, dev.size, LabelType.UNKNOWN))]
        fstype = facts.fstype(dev.name)
        label = LabelType.LOOP if fstype is not None and _fs_type(fstype) is not None else LabelType.UNKNOWN
        return [_entry(Disk(dev.name, dev.size, label))]
    if table.label == "gpt":
        disk = Disk(
            dev.name,
            dev.size,
            LabelType.GPT,
            gpt_guid=table.id.lower() if table.id else None,
            first_usable_lba=table.first_lba,
        )
        return [_entry(disk), *(_entry(_gpt_part(dev.name, p)) for p in table.partitions)]
    if table.label == "dos":
        return [
            _entry(Disk(dev.name, dev.size, LabelType.MSDOS)),
            *(_entry(_dos_part(dev.name, p, table.id)) for p in table.partitions),
        ]
    try:
        label = LabelType(table.label)
    except ValueError:
        label = LabelType.UNKNOWN
    log.warning("%s has a %s partition table; its partitions are not captured", dev.name, table.label)
    return [_entry(Disk(dev.name, dev.size, label))]


def _gpt_part(disk: str, p: bf.TablePartition) -> Part:
    flags = set(_GPT_FLAGS.get(p.type.upper(), frozenset()))
    if p.attrs and _LEGACY_BOOT_ATTR in p.attrs:
        flags.add(PartFlag.LEGACY_BOOT)
    name = (p.name or _NONAME).replace(" ", "%20")
    return Part(
        disk,
        p.size,
        p.start,
        name,
        frozenset(flags),
        p.node,
        partuuid=p.uuid.lower() if p.uuid else None,
        gpt_type=p.type.upper(),
    )


def _dos_part(disk: str, p: bf.TablePartition, disk_id: str | None) -> Part:
    system_id = p.type.lower().removeprefix("0x")
    flags = set(_MSDOS_FLAGS.get(system_id, frozenset()))
    if p.bootable:
        flags.add(PartFlag.BOOT)
    if system_id in _MSDOS_EXTENDED:
        kind = "extended"
    elif p.number >= _FIRST_LOGICAL:
        kind = "logical"
    else:
        kind = "primary"
    partuuid = p.uuid.lower() if p.uuid else None
    if partuuid is None and disk_id:
        # The MBR has no partition UUIDs; the kernel makes PARTUUID "%08x-%02x" of the disk signature and
        # the partition number (block/partitions/msdos.c), which fstab and boot entries may name.
        partuuid = f"{int(disk_id, 16):08x}-{p.number:02x}"
    return Part(disk, p.size, p.start, kind, frozenset(flags), p.node, partuuid=partuuid)


# ---------------------------------------------------------------------------------------------------------
# MD, LUKS, LVM


def _raid(facts: _Facts) -> list[Item]:
    items: list[Item] = []
    for dev in facts.of_kind(bf.DevKind.MD):
        text = facts.probe.command(sf.mdadm_argv(dev.name))
        detail = sf.parse_mdadm_detail(text, dev.name) if text is not None else None
        if detail is None:
            parents = facts.parents(dev.name)
            log.warning("mdadm --detail %s failed; the array is described from lsblk only", dev.name)
            # lsblk's TYPE of an md device is its level (lsblk(8)).
            items.append(_entry(RaidArray(dev.name, "raid1" if not parents else "unknown", len(parents), parents)))
            continue
        items.append(
            _entry(
                RaidArray(
                    dev.name,
                    detail.level,
                    detail.raid_devices,
                    tuple(facts.name(m) for m in detail.members),
                    name=detail.name,
                    metadata=detail.metadata,
                    uuid=detail.uuid,
                    layout=detail.layout,
                    chunk=detail.chunk,
                    spare_devices=len(detail.spares) or None,
                )
            )
        )
    return items


def _crypt(facts: _Facts) -> list[Item]:
    items: list[Item] = []
    crypttab_text = facts.probe.read(sf.CRYPTTAB)
    crypttab = sf.parse_crypttab(crypttab_text) if crypttab_text is not None else ()
    for dev in facts.of_kind(bf.DevKind.CRYPT):
        parents = facts.parents(dev.name)
        if len(parents) != 1:
            log.warning("cannot tell which device %s is opened from", dev.name)
            continue
        source = parents[0]
        text = facts.probe.command(sf.luksdump_argv(source))
        header = sf.parse_luksdump(text) if text is not None else None
        if header is None:
            log.warning("%s is not a LUKS device (or cryptsetup failed); it is not in the layout", source)
            continue
        mapping = dev.name.removeprefix("/dev/mapper/")
        keyfile = next(
            (
                e.keyfile
                for e in crypttab
                if e.name == mapping or e.source in (source, f"UUID={header.uuid}", f"/dev/disk/by-uuid/{header.uuid}")
            ),
            None,
        )
        items.append(
            _entry(
                Crypt(
                    dev.name if dev.name.startswith("/dev/mapper/") else f"/dev/mapper/{mapping}",
                    source,
                    type=LuksType.LUKS1 if header.version == 1 else LuksType.LUKS2,
                    cipher=header.cipher,
                    key_size=header.key_bits,
                    hash=header.hash,
                    uuid=header.uuid,
                    pbkdf=header.pbkdf if header.version == 2 else None,
                    keyfile=keyfile,
                )
            )
        )
    return items


def _lvm(facts: _Facts) -> list[Item]:
    pvs_text = facts.probe.command(sf.LVM_PVS)
    if pvs_text is None:
        return []
    pvs = sf.parse_pvs(pvs_text)
    if not pvs:
        return []
    vgs_text = facts.probe.command(sf.LVM_VGS)
    lvs_text = facts.probe.command(sf.LVM_LVS)
    vgs = sf.parse_vgs(vgs_text) if vgs_text is not None else ()
    segments = sf.parse_lvs(lvs_text) if lvs_text is not None else ()
    items: list[Item] = []
    for pv in pvs:
        if not pv.vg:
            # ReaR writes PVs of no VG as comments only (#2596): nothing to recreate.
            log.info("%s is an LVM PV in no volume group; left out", pv.device)
            continue
        items.append(_entry(LvmDev(f"/dev/{pv.vg}", facts.name(pv.device), pv.uuid, pv.size // _SECTOR)))
    for vg in vgs:
        items.append(_entry(LvmGrp(f"/dev/{vg.name}", vg.extent_size // _KIB, vg.extent_count, vg.size // _KIB)))
    by_lv: dict[tuple[str, str], list[sf.LvSegment]] = {}
    for seg in segments:
        by_lv.setdefault((seg.vg, seg.lv), []).append(seg)
    for (vg_name, lv), segs in by_lv.items():
        items += _lvmvol(vg_name, lv, segs)
    return items


def _lvmvol(vg: str, lv: str, segs: list[sf.LvSegment]) -> list[Item]:
    first = segs[0]
    layout = tuple(w for w in first.layout.split(",") if w) or ("linear",)
    items: list[Item] = []
    if len(segs) > 1:
        items.append(Note(f"# Volume /dev/{vg}/{lv} has {len(segs)} segments; it is recreated with one."))
    record = LvmVol(f"/dev/{vg}", lv, first.size, layout)
    segtype = first.segtype
    if record.is_thin_pool:
        record = LvmVol(
            record.vg,
            lv,
            first.size,
            layout,
            poolmetadatasize=first.metadata_size or None,
            chunksize=first.chunk_size or None,
        )
    elif record.is_thin_volume:
        record = LvmVol(record.vg, lv, first.size, layout, thinpool=first.pool)
    elif segtype == "striped" and first.stripes > 1:
        record = LvmVol(record.vg, lv, first.size, layout, stripesize=first.stripe_size, stripes=first.stripes)
    elif segtype in ("raid1", "mirror"):
        # stripes counts the images of a mirror; lvcreate -m counts the extra copies (lvcreate(8)).
        record = LvmVol(record.vg, lv, first.size, layout, mirrors=max(first.stripes - 1, 1))
    elif segtype.startswith("raid") and first.data_stripes > 1:
        record = LvmVol(record.vg, lv, first.size, layout, stripesize=first.stripe_size, stripes=first.data_stripes)
    # Snapshots and caches are not recreated (ReaR writes them as comments).
    excluded = (first.origin is not None and not record.is_thin_volume) or "cache" in layout
    items.append(_entry(record, excluded=excluded))
    return items


# ---------------------------------------------------------------------------------------------------------
# File systems and swap


def _fs_type(text: str) -> FsType | None:
    try:
        return FsType(text)
    except ValueError:
        return None


def _filesystems(facts: _Facts) -> tuple[list[Item], dict[str, str], tuple[Unrecreatable, ...]]:
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
        fstype = _fs_type(main.fstype)
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
        items.append(_entry(fs))
        if fstype is FsType.BTRFS:
            items += _btrfs_subvolumes(facts, fs, mounts)
    return items, xfs, tuple(problems)


def _ext(facts: _Facts, fs: Fs) -> Fs:
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


def _btrfs_super(facts: _Facts, fs: Fs) -> Fs:
    text = facts.probe.command(ff.btrfs_super_argv(fs.device))
    if text is None:
        return fs
    s = ff.parse_btrfs_super(text)
    return replace(fs, nodesize=s.nodesize, sectorsize=s.sectorsize)


def _btrfs_subvolumes(facts: _Facts, fs: Fs, mounts: list[bf.Mount]) -> list[Item]:
    items: list[Item] = []
    default_text = facts.probe.command(ff.btrfs_default_argv(fs.mountpoint))
    default = ff.parse_btrfs_default(default_text) if default_text is not None else None
    if default is not None:
        items.append(_entry(BtrfsSubvol(BtrfsSubvolKind.DEFAULT, fs.device, fs.mountpoint, default[0], default[1])))
    list_text = facts.probe.command(ff.btrfs_list_argv(fs.mountpoint))
    subvols = ff.parse_btrfs_list(list_text) if list_text is not None else ()
    # ReaR writes snapshots commented out: restoring a backup cannot recreate them as snapshots.
    for sv in subvols:
        if sv.snapshot:
            items.append(_entry(BtrfsSubvol(BtrfsSubvolKind.SNAPSHOT, fs.device, fs.mountpoint, sv.id, sv.path), True))
    for sv in subvols:
        if not sv.snapshot and (default is None or sv.id != default[0]):
            items.append(_entry(BtrfsSubvol(BtrfsSubvolKind.NORMAL, fs.device, fs.mountpoint, sv.id, sv.path)))
    for mount in sorted(mounts, key=lambda m: m.target):
        path = mount.fsroot.strip("/") or "/"
        items.append(_entry(BtrfsMountedSubvol(fs.device, mount.target, mount.options, path)))
    return items


def _swap(facts: _Facts) -> list[Item]:
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
        items.append(_entry(Swap(device, uuid=uuid, label=label)))
    return items
