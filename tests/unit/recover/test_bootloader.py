"""The boot loader plan of a recovered machine (rearbuild.recover.bootloader): UEFI machines keep Secure Boot
through the restored system's signed shim and GRUB."""

from __future__ import annotations

from pathlib import Path

import pytest

from rearbuild.errors import UserError
from rearbuild.layout.model import Fs, FsType, Layout
from rearbuild.recover.bootloader import SIGNED_CHAIN_FILES, Bootloader, Firmware, check_grub_rescue, plan_boot

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


@pytest.mark.parametrize(("value", "firmware"), [("", None), ("GRUB2", Firmware.BIOS), ("grub2-efi", Firmware.UEFI),
                                                 ("EFI", Firmware.UEFI)])  # fmt: skip
def test_bootloader_chooses_the_firmware_grub_is_installed_for(value: str, firmware: Firmware | None) -> None:
    assert Bootloader.parse(value).firmware is firmware


def test_bootloader_grub2_installs_for_bios_whatever_the_rescue_system_booted_with(tmp_path: Path) -> None:
    root = _restored(tmp_path)
    chosen = Bootloader.parse("GRUB2").firmware or Firmware.UEFI
    plan = plan_boot(ESP, root, firmware=chosen, explicit=("/dev/vda",))
    assert plan.commands(root) == [
        ["chroot", str(root), "/usr/sbin/grub-install", "--target=i386-pc", "--recheck", "/dev/vda"]
    ]


@pytest.mark.parametrize("value", ["LILO", "ELILO", "ZIPL", "GRUB", "ARM-ALLWINNER"])
def test_rears_other_boot_loaders_are_refused_naming_the_line(value: str) -> None:
    with pytest.raises(UserError) as raised:
        Bootloader.parse(value, "/etc/rear/local.conf:4")
    assert raised.value.message.startswith(f"/etc/rear/local.conf:4: BOOTLOADER={value} (")
    assert raised.value.message.endswith("is not one rearbuild can install")
    assert "GRUB2-EFI" in (raised.value.hint or "")


def test_an_unknown_boot_loader_is_refused() -> None:
    with pytest.raises(UserError, match="BOOTLOADER='systemd-boot' is not a boot loader ReaR knows"):
        Bootloader.parse("systemd-boot")


def test_grub_rescue_is_refused_only_when_asked_for() -> None:
    check_grub_rescue(False, "default.conf")
    with pytest.raises(UserError, match=r"^local.conf:2: GRUB_RESCUE=y .* is not supported"):
        check_grub_rescue(True, "local.conf:2")
