"""Disks and partitions captured from real recordings: partition table types, GPT and MBR identities, flags."""

from __future__ import annotations

from decimal import Decimal

from rearbuild.layout.model import Disk, Fs, FsType, LvmDev, LvmGrp, LvmVol, Part, ReservedBlocks, Swap
from rearbuild.layout.partitions import LabelType, PartFlag
from tests.unit.collect.disk.helpers import before, of, one, order, replay


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
    # blkid: UUID=02b77d3f-56f7-4f77-8255-b53237f190d0 on /dev/vdb.
    assert data.uuid == "02b77d3f-56f7-4f77-8255-b53237f190d0"
    names = order(layout)
    assert before(names, "/dev/vda", "fs:/") and before(names, "fs:/", "fs:/data")


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
    # The kernel's PARTUUID of an MBR partition: <disk signature>-<number> (sfdisk: "id": "0x2f80f2d5").
    signature = parts["/dev/vda1"].partuuid
    assert signature == "2f80f2d5-01"
    assert parts["/dev/vda5"].partuuid == signature[:-2] + "05" == "2f80f2d5-05"
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


def test_gpt_bios_boot_esp_and_lvm() -> None:
    layout = replay("gpt_lvm")
    disk = one(layout, Disk, device="/dev/vda")
    assert disk.label is LabelType.GPT and disk.size == 2048 * 1024**2
    # sfdisk: "id": "249BA79B-37FA-194C-8BD1-9C5E04891A78", "firstlba": 2048.
    assert disk.gpt_guid == "249ba79b-37fa-194c-8bd1-9c5e04891a78" and disk.first_usable_lba == 2048
    parts = {p.device: p for p in of(layout, Part)}
    assert (parts["/dev/vda1"].name, parts["/dev/vda1"].flags) == ("bios", {PartFlag.BIOS_GRUB})
    assert (parts["/dev/vda1"].start, parts["/dev/vda1"].size) == (1024**2, 1024**2)
    # A blank in a GPT name cannot be written as is (disklayout.conf has no quoting).
    assert (parts["/dev/vda2"].name, parts["/dev/vda2"].flags) == ("EFI%20System", {PartFlag.BOOT, PartFlag.ESP})
    assert parts["/dev/vda2"].gpt_type == "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
    assert parts["/dev/vda3"].flags == {PartFlag.LVM}
    # sfdisk: vda3 "start": 413696, "size": 3778560 (512-byte sectors).
    assert (parts["/dev/vda3"].start, parts["/dev/vda3"].size) == (413696 * 512, 3778560 * 512)
    assert parts["/dev/vda3"].start + parts["/dev/vda3"].size <= disk.size
    assert {d: p.partuuid for d, p in parts.items()} == {
        "/dev/vda1": "7856e750-ab97-f34b-9eec-a51c2ee5c106",
        "/dev/vda2": "b8119aaa-c634-a844-95db-3066ca122380",
        "/dev/vda3": "91a8d0be-6877-d14b-94b4-8a2e3babd181",
    }
    assert len({p.partuuid for p in parts.values()}) == 3
    pv = one(layout, LvmDev, device="/dev/vda3")
    # lvm pvs: "pv_uuid":"eQXVsc-84rv-0O9G-4gyH-D3pX-HS64-dLzs3d".
    assert pv.vg == "/dev/vg0" and pv.uuid == "eQXVsc-84rv-0O9G-4gyH-D3pX-HS64-dLzs3d"
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
