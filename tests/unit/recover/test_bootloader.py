"""The boot loader plan of a recovered machine (rearbuild.recover.bootloader): UEFI machines keep Secure Boot
through the restored system's signed shim and GRUB."""

from __future__ import annotations

from pathlib import Path

from rearbuild.layout.model import Fs, FsType, Layout
from rearbuild.recover.bootloader import SIGNED_CHAIN_FILES, Firmware, plan_boot

ESP = Layout.of([Fs(device="/dev/vda1", mountpoint="/boot/efi", fstype=FsType.VFAT)])


def _restored(tmp_path: Path, *, signed: tuple[str, ...] = SIGNED_CHAIN_FILES) -> Path:
    root = tmp_path / "root"
    (root / "usr/sbin").mkdir(parents=True)
    (root / "usr/sbin/grub-install").write_text("#!/bin/sh\n")
    for relative in signed:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(b"MZ")
    return root


def test_uefi_with_the_signed_chain_installs_shim(tmp_path: Path) -> None:
    root = _restored(tmp_path)
    plan = plan_boot(ESP, root, firmware=Firmware.UEFI, secure_boot_on=True)
    assert plan.commands(root) == [
        ["chroot", str(root), "/usr/sbin/grub-install", "--target=x86_64-efi", "--recheck",
         "--efi-directory=/boot/efi", "--uefi-secure-boot"],
    ]  # fmt: skip
    assert plan.missing_signed == ()
    # Secure Boot off in the firmware today: the signed chain still goes in, so switching it on later works
    assert plan_boot(ESP, root, firmware=Firmware.UEFI).commands(root) == plan.commands(root)


def test_without_the_signed_chain_the_missing_packages_are_named(tmp_path: Path) -> None:
    root = _restored(tmp_path, signed=SIGNED_CHAIN_FILES[1:])  # GRUB signed, no shim
    plan = plan_boot(ESP, root, firmware=Firmware.UEFI, secure_boot_on=True)
    assert plan.missing_signed == ("shim-signed",)
    assert "--uefi-secure-boot" not in plan.commands(root)[0]
    # nobody needs Secure Boot: nothing to warn about
    assert plan_boot(ESP, root, firmware=Firmware.UEFI).missing_signed == ()


def test_bios_is_untouched(tmp_path: Path) -> None:
    root = _restored(tmp_path)
    plan = plan_boot(ESP, root, firmware=Firmware.BIOS, explicit=("/dev/vda",), secure_boot_on=True)
    assert plan.commands(root) == [
        ["chroot", str(root), "/usr/sbin/grub-install", "--target=i386-pc", "--recheck", "/dev/vda"]
    ]
    assert not plan.secure_boot and plan.missing_signed == ()
