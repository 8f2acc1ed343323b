"""The disks recovery must not write: the disk holding the backup, found through BACKUP_URL."""

from __future__ import annotations

import pytest

from rearbuild.recover.disks import BlockDevice, Devices, protected_disks


def _devices() -> Devices:
    def dev(name: str, parent: str | None, kind: str) -> BlockDevice:
        return BlockDevice(name, parent, kind, None, None, None, 1 << 30, None)

    return Devices([dev("/dev/vda", None, "disk"), dev("/dev/vdb", None, "disk"), dev("/dev/vdb1", "/dev/vdb", "part")])


def test_the_usb_backup_disk_is_protected() -> None:
    found = protected_disks(_devices(), iso_volid="REAR-ISO", backup_url="usb:///dev/vdb1", cmdline="")
    assert [p.disk for p in found] == ["/dev/vdb"] and "usb:///dev/vdb1" in found[0].reason


@pytest.mark.parametrize("url", ["", "nfs://server/export", "gopher:///x", "iso:///backup", "file:///no/such/dir"])
def test_other_backup_urls_protect_nothing(url: str) -> None:
    assert protected_disks(_devices(), iso_volid="REAR-ISO", backup_url=url, cmdline="") == []
