"""MD RAID, LUKS and LVM captured from real recordings."""

from __future__ import annotations

from rearbuild.layout.model import Crypt, Fs, FsType, LuksType, LvmDev, LvmGrp, LvmVol, Part, RaidArray
from rearbuild.layout.partitions import PartFlag
from tests.unit.collect.disk.helpers import before, of, one, order, replay


def test_raid1_with_lvm_and_striped_lv() -> None:
    layout = replay("raid1_lvm")
    md = one(layout, RaidArray, device="/dev/md0")
    assert (md.level, md.raid_devices, md.devices, md.metadata) == ("raid1", 2, ("/dev/vda1", "/dev/vdb1"), "1.2")
    # mdadm --detail: "Name : (none):root", "UUID : 052bc91a:048aaf71:0364156f:86d3e872".
    assert md.name == "(none):root" and md.uuid == "052bc91a:048aaf71:0364156f:86d3e872"
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


def test_luks2_with_lvm_thin_pool() -> None:
    layout = replay("luks_lvm")
    crypt = one(layout, Crypt)
    assert (crypt.device, crypt.source, crypt.type) == ("/dev/mapper/luks-root", "/dev/vda2", LuksType.LUKS2)
    assert (crypt.cipher, crypt.key_size, crypt.hash, crypt.pbkdf) == ("aes-xts-plain64", 512, "sha256", "pbkdf2")
    # cryptsetup luksDump: "UUID: 21540d65-a276-4e6f-b6a3-c01177c0edfb".
    assert crypt.uuid == "21540d65-a276-4e6f-b6a3-c01177c0edfb"
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
