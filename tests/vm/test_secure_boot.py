"""Secure Boot as a setting (issue 15): the rescue ISO built with SECURE_BOOT_BOOTLOADER boots to a working rescue
system under OVMF with Secure Boot on and Microsoft's keys (OVMF_CODE_4M.ms.fd / OVMF_VARS_4M.ms.fd, q35 with
SMM), and the rescue system itself sees Secure Boot on. The counter-check that the firmware enforces Secure
Boot is tests/vm/test_iso_boot.py::test_secure_boot_refuses_unsigned_grub."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.vm.conftest import SIGNED_SHIM, RescueImage
from tests.vm.qemu import Guest, cdrom, ovmf, qemu

pytestmark = [pytest.mark.slow, pytest.mark.vm]

READY = r"rearbuild rescue system ready"
BOOT_TIMEOUT = 400  # SMM under TCG is slow (vm-testing-notes.md: ~37 s for a tiny initrd)


def test_secure_boot_iso_boots_with_secure_boot_on(secure_boot_image: RescueImage, tmp_path: Path) -> None:
    assert "UEFI boot: signed-shim, Secure Boot required" in secure_boot_image.build_log
    guest = Guest(qemu(*ovmf(tmp_path, secure=True), *cdrom(secure_boot_image.iso)), tmp_path / "console.log")
    try:
        guest.wait_for(READY, BOOT_TIMEOUT)
        print(f"\nOVMF Secure Boot CD-ROM, {SIGNED_SHIM.name}: power-on to '{READY}' in {guest.elapsed():.1f} s")
        guest.wait_for(r"RESCUE [^\n]*# ", 60)
        # the rescue system reads the firmware's SecureBoot variable itself (rearbuild.secureboot, shown by dump)
        status, out = guest.shell(
            "grep -q efivarfs /proc/mounts || mount -t efivarfs efivarfs /sys/firmware/efi/efivars; "
            "rear dump 2>/dev/null | grep SECURE_BOOT_STATE",
            timeout=120,
        )
        assert status == 0 and "enabled" in out, out
    finally:
        guest.close()


def test_secure_boot_iso_as_a_disk_boots_with_secure_boot_on(secure_boot_image: RescueImage, tmp_path: Path) -> None:
    """The isohybrid ISO written to a stick (here: attached as a disk) boots through the same signed chain."""
    disk = ["-drive", f"file={secure_boot_image.iso},format=raw,if=ide,snapshot=on"]
    guest = Guest(qemu(*ovmf(tmp_path, secure=True), *disk), tmp_path / "console.log")
    try:
        guest.wait_for(READY, BOOT_TIMEOUT)
        print(f"\nOVMF Secure Boot, isohybrid disk: power-on to '{READY}' in {guest.elapsed():.1f} s")
    finally:
        guest.close()
