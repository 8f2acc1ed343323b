"""Capture replayed from real recordings of QEMU guests (tests/fixtures/capture/<scenario>, made by
tests/fixtures/capture/record/record.py): the records, sizes, UUIDs, flags, mount tree and creation order."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import pytest

from rearbuild.collect.disk.capture import capture, capture_all
from rearbuild.collect.disk.probe import RecordedProbe, slug
from rearbuild.collect.disk.save import difference, finish, write
from rearbuild.errors import UserError
from rearbuild.layout.deps import creation_order
from rearbuild.layout.disklayout import read_layout
from rearbuild.layout.exclude import ExclusionSettings
from rearbuild.layout.model import (
    BtrfsMountedSubvol,
    BtrfsSubvol,
    BtrfsSubvolKind,
    Crypt,
    Disk,
    Fs,
    FsType,
    LabelType,
    Layout,
    LuksType,
    LvmDev,
    LvmGrp,
    LvmVol,
    Part,
    PartFlag,
    RaidArray,
    ReservedBlocks,
    Swap,
)

T = TypeVar("T")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "capture"
SCENARIOS = sorted(p.name for p in FIXTURES.iterdir() if (p / "index.json").is_file())


def replay(name: str) -> Layout:
    probe = RecordedProbe(FIXTURES / name)
    layout = capture(probe)
    # A recording holds every invocation capture makes: nothing may be missing.
    assert probe.missing == []
    return layout


def of(layout: Layout, kind: type[T]) -> list[T]:
    return [r for r in layout.active if isinstance(r, kind)]


def one(layout: Layout, kind: type[T], **match: object) -> T:
    found = [r for r in of(layout, kind) if all(getattr(r, k) == v for k, v in match.items())]
    assert len(found) == 1, (kind.__name__, match, found)
    return found[0]


def order(layout: Layout) -> list[str]:
    return [c.name for c in creation_order(layout)]


def before(names: list[str], first: str, then: str) -> bool:
    return names.index(first) < names.index(then)


@pytest.mark.parametrize("name", SCENARIOS)
def test_written_layout_reads_back_to_the_same_model(name: str, tmp_path: Path) -> None:
    captured = capture_all(RecordedProbe(FIXTURES / name))
    layout = finish(captured, ExclusionSettings(), ("# Disk layout dated 20260101000000 (YYYYmmddHHMMSS)",))
    written = write(layout, captured, tmp_path / "layout" / "disklayout.conf", tmp_path)
    again = read_layout(written.layout_file)
    assert again.items == layout.items
    assert difference(written.layout_file.read_text(), written.layout_file.read_text()) == []
    # Every component can be ordered for recreation (no cycle, no dangling dependency).
    assert len(creation_order(again)) >= len(of(again, Disk))


@pytest.mark.parametrize("name", SCENARIOS)
def test_recordings_are_complete_and_named_readably(name: str) -> None:
    replay(name)
    for entry in json.loads((FIXTURES / name / "index.json").read_text()):
        assert entry["output"] == slug(entry.get("argv"), entry.get("file")) + ".out"


def test_wholedisk_file_systems_without_partition_table() -> None:
    layout = replay("wholedisk")
    assert one(layout, Disk, device="/dev/vda") == Disk("/dev/vda", 512 * 1024**2, LabelType.LOOP)
    assert one(layout, Disk, device="/dev/vdb").label is LabelType.LOOP
    assert of(layout, Part) == []
    root = one(layout, Fs, mountpoint="/")
    assert (root.device, root.fstype, root.label) == ("/dev/vda", FsType.EXT4, "rootfs")
    assert root.blocksize == 4096 and root.bytes_per_inode == 16384
    assert root.reserved_blocks == ReservedBlocks(Decimal(5), True)
    data = one(layout, Fs, mountpoint="/data")
    assert (data.device, data.fstype, data.label) == ("/dev/vdb", FsType.XFS, "data")
    assert data.uuid is not None and len(data.uuid) == 36
    names = order(layout)
    assert before(names, "/dev/vda", "fs:/") and before(names, "fs:/", "fs:/data")


def test_wholedisk_keeps_xfs_info_for_recreation() -> None:
    captured = capture_all(RecordedProbe(FIXTURES / "wholedisk"))
    assert "agcount=" in captured.xfs_info["/dev/vdb"]


def test_msdos_extended_and_logical_partitions() -> None:
    layout = replay("msdos_logical")
    disk = one(layout, Disk, device="/dev/vda")
    assert disk.label is LabelType.MSDOS and disk.size == 1536 * 1024**2
    parts = {p.device: p for p in of(layout, Part)}
    assert [parts[d].name for d in sorted(parts)] == ["primary", "primary", "extended", "logical", "logical", "logical"]
    assert parts["/dev/vda1"].flags == {PartFlag.BOOT}
    assert parts["/dev/vda1"].start == 1024**2 and parts["/dev/vda1"].size == 150 * 1024**2
    assert parts["/dev/vda2"].flags == {PartFlag.SWAP}
    # The first logical partition starts one MiB into the extended one (sfdisk's default alignment).
    assert parts["/dev/vda5"].start == parts["/dev/vda3"].start + 1024**2
    assert parts["/dev/vda5"].size == 600 * 1024**2
    # The kernel's PARTUUID of an MBR partition: <disk signature>-<number>.
    signature = parts["/dev/vda1"].partuuid
    assert signature is not None and signature.endswith("-01")
    assert parts["/dev/vda5"].partuuid == signature[:-2] + "05"
    root = one(layout, Fs, mountpoint="/")
    assert root.device == "/dev/vda5" and root.bytes_per_inode == 8192
    assert root.max_mounts == 20 and root.check_interval_days == 30
    boot = one(layout, Fs, mountpoint="/boot")
    assert boot.blocksize == 1024 and boot.reserved_blocks == ReservedBlocks(Decimal(1), True) and boot.label == "boot"
    assert one(layout, Fs, mountpoint="/var").fstype is FsType.XFS
    # Only the active swap is part of the layout (ReaR reads /proc/swaps).
    assert [s.device for s in of(layout, Swap)] == ["/dev/vda6"]
    names = order(layout)
    assert before(names, "/dev/vda3", "/dev/vda5") and before(names, "fs:/", "fs:/boot")


def test_unused_disks_are_excluded_by_default() -> None:
    captured = capture_all(RecordedProbe(FIXTURES / "wholedisk"))
    layout = finish(captured, ExclusionSettings(exclude_recreate=("fs:/data",)))
    excluded = [e.record for e in layout.entries if e.excluded]
    assert Disk("/dev/vdb", 400 * 1024**2, LabelType.LOOP) in excluded
    assert all(not isinstance(r, Fs) or r.mountpoint == "/" for r in layout.active)


def test_gpt_bios_boot_esp_and_lvm() -> None:
    layout = replay("gpt_lvm")
    disk = one(layout, Disk, device="/dev/vda")
    assert disk.label is LabelType.GPT and disk.size == 2048 * 1024**2
    assert disk.gpt_guid is not None and len(disk.gpt_guid) == 36 and disk.first_usable_lba == 2048
    parts = {p.device: p for p in of(layout, Part)}
    assert (parts["/dev/vda1"].name, parts["/dev/vda1"].flags) == ("bios", {PartFlag.BIOS_GRUB})
    assert (parts["/dev/vda1"].start, parts["/dev/vda1"].size) == (1024**2, 1024**2)
    # A blank in a GPT name cannot be written as is (disklayout.conf has no quoting).
    assert (parts["/dev/vda2"].name, parts["/dev/vda2"].flags) == ("EFI%20System", {PartFlag.BOOT, PartFlag.ESP})
    assert parts["/dev/vda2"].gpt_type == "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
    assert parts["/dev/vda3"].flags == {PartFlag.LVM}
    assert parts["/dev/vda3"].start + parts["/dev/vda3"].size <= disk.size
    assert len({p.partuuid for p in parts.values()}) == 3
    pv = one(layout, LvmDev, device="/dev/vda3")
    assert pv.vg == "/dev/vg0" and pv.uuid is not None and len(pv.uuid) == 38
    vg = one(layout, LvmGrp, vg="/dev/vg0")
    assert vg.extent_size_kib == 4096 and vg.extents is not None and vg.size_kib == vg.extents * 4096
    lvs = {v.name: v for v in of(layout, LvmVol)}
    assert {n: (v.size, v.layout) for n, v in lvs.items()} == {
        "root": (700 * 1024**2, ("linear",)),
        "home": (320 * 1024**2, ("linear",)),
        "swap": (128 * 1024**2, ("linear",)),
    }
    root = one(layout, Fs, mountpoint="/")
    assert (root.device, root.fstype, root.label) == ("/dev/mapper/vg0-root", FsType.EXT4, "root")
    assert one(layout, Fs, mountpoint="/home").fstype is FsType.XFS
    efi = one(layout, Fs, mountpoint="/boot/efi")
    assert (efi.device, efi.fstype, efi.label) == ("/dev/vda2", FsType.VFAT, "ESP")
    assert efi.options is not None and "fmask=0077" in efi.options
    # /proc/swaps names the LV /dev/dm-N; the layout uses its mapper name.
    assert one(layout, Swap).device == "/dev/mapper/vg0-swap"
    assert one(layout, Swap).label == "swap0"
    names = order(layout)
    assert before(names, "/dev/vda3", "pv:/dev/vda3") and before(names, "pv:/dev/vda3", "/dev/vg0")
    assert before(names, "/dev/vg0", "/dev/mapper/vg0-root") and before(names, "fs:/", "fs:/boot/efi")


def test_raid1_with_lvm_and_striped_lv() -> None:
    layout = replay("raid1_lvm")
    md = one(layout, RaidArray, device="/dev/md0")
    assert (md.level, md.raid_devices, md.devices, md.metadata) == ("raid1", 2, ("/dev/vda1", "/dev/vdb1"), "1.2")
    assert md.name is not None and md.name.endswith(":root") and md.uuid is not None
    assert {p.device for p in of(layout, Part) if p.flags == {PartFlag.RAID}} == {"/dev/vda1", "/dev/vdb1"}
    assert one(layout, LvmDev, device="/dev/md0").vg == "/dev/vgsys"
    assert {pv.device for pv in of(layout, LvmDev) if pv.vg == "/dev/vgdata"} == {"/dev/vda2", "/dev/vdb2"}
    assert one(layout, LvmGrp, vg="/dev/vgdata").extent_size_kib == 8192
    srv = one(layout, LvmVol, name="srv")
    assert (srv.layout, srv.stripes, srv.stripesize, srv.size) == (("striped",), 2, 64 * 1024, 256 * 1024**2)
    assert one(layout, Fs, mountpoint="/srv").fstype is FsType.EXT3
    names = order(layout)
    for member in ("/dev/vda1", "/dev/vdb1"):
        assert before(names, member, "/dev/md0")
    assert before(names, "/dev/md0", "pv:/dev/md0") and before(names, "/dev/mapper/vgsys-root", "fs:/")


def test_btrfs_subvolumes_default_snapshots_and_mounts() -> None:
    layout = replay("btrfs_subvol")
    root = one(layout, Fs, mountpoint="/")
    assert (root.device, root.fstype, root.label) == ("/dev/vda2", FsType.BTRFS, "system")
    assert (root.nodesize, root.sectorsize) == (16384, 4096)
    assert root.options is not None and "subvol=/@" in root.options
    subvols = {(s.kind, s.path) for s in of(layout, BtrfsSubvol)}
    assert subvols == {
        (BtrfsSubvolKind.DEFAULT, "@"),
        (BtrfsSubvolKind.NORMAL, "@home"),
        (BtrfsSubvolKind.NORMAL, "@snapshots"),
        (BtrfsSubvolKind.NORMAL, "@/var/cache"),
    }
    # Snapshots are written commented out, as ReaR does.
    snapshots = [e.record for e in layout.entries if e.excluded]
    assert [(s.kind, s.path) for s in snapshots if isinstance(s, BtrfsSubvol)] == [
        (BtrfsSubvolKind.SNAPSHOT, "@snapshots/1")
    ]
    mounted = {m.mountpoint: m.path for m in of(layout, BtrfsMountedSubvol)}
    assert mounted == {"/": "@", "/home": "@home", "/.snapshots": "@snapshots"}
    assert one(layout, Fs, mountpoint="/boot/efi").fstype is FsType.VFAT
    names = order(layout)
    assert before(names, "fs:/", "btrfsmountedsubvol:/home") and before(names, "fs:/", "fs:/boot/efi")


def test_luks2_with_lvm_thin_pool() -> None:
    layout = replay("luks_lvm")
    crypt = one(layout, Crypt)
    assert (crypt.device, crypt.source, crypt.type) == ("/dev/mapper/luks-root", "/dev/vda2", LuksType.LUKS2)
    assert (crypt.cipher, crypt.key_size, crypt.hash, crypt.pbkdf) == ("aes-xts-plain64", 512, "sha256", "pbkdf2")
    assert crypt.uuid is not None and len(crypt.uuid) == 36
    # The key file named in /etc/crypttab.
    assert crypt.keyfile == "/etc/keys/root.key"
    assert one(layout, LvmDev).device == "/dev/mapper/luks-root"
    lvs = {v.name: v for v in of(layout, LvmVol)}
    pool = lvs["pool"]
    assert pool.is_thin_pool and pool.chunksize == 128 * 1024 and pool.poolmetadatasize == 8 * 1024**2
    assert (lvs["root"].thinpool, lvs["root"].size, lvs["root"].is_thin_volume) == ("pool", 900 * 1024**2, True)
    assert lvs["var"].thinpool == "pool" and lvs["swap"].layout == ("linear",)
    assert one(layout, Fs, mountpoint="/boot").fstype is FsType.EXT2
    var = one(layout, Fs, mountpoint="/var")
    assert var.fstype is FsType.XFS and var.options is not None and "noatime" in var.options
    names = order(layout)
    assert before(names, "/dev/vda2", "/dev/mapper/luks-root")
    assert before(names, "/dev/mapper/luks-root", "pv:/dev/mapper/luks-root")
    assert before(names, "/dev/mapper/vgcrypt-pool", "/dev/mapper/vgcrypt-root")
    assert before(names, "/dev/mapper/vgcrypt-root", "fs:/") and before(names, "fs:/", "fs:/var")


class FakeProbe:
    """Only lsblk and findmnt answer: every other tool is missing or may not open the device."""

    def __init__(self, lsblk: list[dict[str, object]], mounts: list[dict[str, str]]) -> None:
        self.lsblk = json.dumps({"blockdevices": lsblk})
        self.mounts = json.dumps({"filesystems": mounts})

    def command(self, argv: Sequence[str]) -> str | None:
        return {"lsblk": self.lsblk, "findmnt": self.mounts}.get(argv[0])

    def read(self, path: str) -> str | None:
        return None


def _dev(name: str, kind: str, parent: str | None = None) -> dict[str, object]:
    return {"name": name, "kname": name, "pkname": parent, "type": kind, "size": 10 * 1024**3}


def test_unreadable_devices_and_missing_tools_do_not_crash() -> None:
    probe = FakeProbe(
        [_dev("/dev/vda", "disk"), _dev("/dev/vdb", "disk"), _dev("/dev/vdb1", "part", "/dev/vdb")],
        [{"source": "/dev/vda", "target": "/", "fstype": "ext4", "options": "rw", "fsroot": "/"}],
    )
    layout = capture(probe)
    # The host's case: / directly on a disk that may not be opened (sfdisk, blkid, tune2fs all fail).
    assert one(layout, Disk, device="/dev/vda").label is LabelType.LOOP
    assert one(layout, Fs, mountpoint="/") == Fs("/dev/vda", "/", FsType.EXT4, label="", options="rw")
    # Partitions whose table could not be read are left out, with a note in the file.
    assert one(layout, Disk, device="/dev/vdb").label is LabelType.UNKNOWN
    assert of(layout, Part) == []


def test_mounted_file_system_nothing_recreates_is_refused_unless_excluded() -> None:
    probe = FakeProbe(
        [_dev("/dev/vda", "disk"), _dev("/dev/vdb", "disk")],
        [
            {"source": "/dev/vda", "target": "/", "fstype": "ext4", "options": "rw", "fsroot": "/"},
            {"source": "/dev/vdb", "target": "/srv/win", "fstype": "ntfs3", "options": "rw", "fsroot": "/"},
        ],
    )
    captured = capture_all(probe)
    with pytest.raises(UserError, match="ntfs3 on /dev/vdb mounted at /srv/win") as info:
        finish(captured, ExclusionSettings())
    assert info.value.hint is not None and '"fs:/srv/win"' in info.value.hint
    finish(captured, ExclusionSettings(exclude_recreate=("fs:/srv/win",)))
