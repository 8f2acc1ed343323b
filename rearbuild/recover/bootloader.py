"""Making the recovered disk bootable again: the boot loader that was in use, installed by the restored
system's own tools (ReaR: finalize/Linux-i386/660_install_grub2.sh and 670_run_efibootmgr.sh).

Secure Boot (issue 15, ReaR's shim handling, rear-upstream-study.md §5.2 and §7.2, rear#2116): on UEFI, when the
restored system has the distribution's signed shim and signed GRUB (Debian: shim-signed and
grub-efi-amd64-signed, which a Secure Boot installation has), its grub-install runs with --uefi-secure-boot:
Debian's grub-install then copies shimx64.efi and the signed grubx64.efi into the ESP and points the NVRAM boot
entry at shim (grub-install.c, Debian patch "install signed images"). Without them, a machine that runs with
Secure Boot on (the rescue system booted so) is told what to install before it reboots.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from pathlib import Path

from rearbuild.errors import UserError
from rearbuild.layout.model import Disk, Fs, FsType, Layout, Part
from rearbuild.layout.partitions import PartFlag
from rearbuild.log import notice
from rearbuild.recover import target
from rearbuild.recover.chroot import chroot_mounts
from rearbuild.run import run


class Firmware(enum.Enum):
    BIOS = "bios"
    UEFI = "uefi"

    @classmethod
    def current(cls) -> Firmware:
        # The kernel exposes /sys/firmware/efi only when it was started by UEFI firmware.
        return cls.UEFI if os.path.isdir("/sys/firmware/efi") else cls.BIOS

    @property
    def grub_target(self) -> str:
        return {Firmware.BIOS: "i386-pc", Firmware.UEFI: "x86_64-efi"}[self]


class Bootloader(enum.Enum):
    """ReaR's BOOTLOADER: the boot loader recovery installs; empty: the one the rescue system's firmware boots
    (ReaR guesses it from the disks, layout/save/default/445_guess_bootloader.sh). rearbuild installs GRUB2 only."""

    AUTO = ""
    GRUB2 = "GRUB2"
    GRUB2_EFI = "GRUB2-EFI"
    EFI = "EFI"  # ReaR's "UEFI, whatever loader": GRUB2 on UEFI here

    @classmethod
    def parse(cls, value: str, where: str = "BOOTLOADER") -> Bootloader:
        word = value.strip().upper()
        try:
            return cls(word)
        except ValueError:
            pass
        choices = "GRUB2 (BIOS), GRUB2-EFI or EFI (UEFI), or empty (what the firmware boots)"
        if word in _REAR_ONLY:
            raise UserError(
                f"{where}: BOOTLOADER={value.strip()} ({_REAR_ONLY[word]}) is not one rearbuild can install",
                hint=f"rearbuild installs GRUB2: set BOOTLOADER to {choices}",
            )
        raise UserError(f"{where}: BOOTLOADER={value.strip()!r} is not a boot loader ReaR knows",
                        hint=f"set BOOTLOADER to {choices}")  # fmt: skip

    @property
    def firmware(self) -> Firmware | None:
        """The firmware GRUB is installed for; None: the rescue system's own (Firmware.current())."""
        return {Bootloader.GRUB2: Firmware.BIOS, Bootloader.GRUB2_EFI: Firmware.UEFI,
                Bootloader.EFI: Firmware.UEFI}.get(self)  # fmt: skip


# ReaR 2.7's other values (layout/save/default/450_check_bootloader_files.sh) and what they are.
_REAR_ONLY = {
    "GRUB": "GRUB Legacy",
    "ELILO": "the EFI Linux loader",
    "LILO": "the Linux loader",
    "PPC": "PowerPC's yaboot/PReP",
    "ARM": "ARM boards' firmware loaders",
    "ARM-ALLWINNER": "Allwinner's second stage loader",
    "ZIPL": "the IBM Z loader",
}


def check_grub_rescue(enabled: bool, where: str) -> None:
    """ReaR's GRUB_RESCUE=y adds a rescue entry to this host's GRUB (the one setting with which mkrescue changes
    the running system); rearbuild does not touch the host's boot configuration."""
    if enabled:
        raise UserError(
            f"{where}: GRUB_RESCUE=y (a rescue system entry in this host's GRUB menu) is not supported",
            hint="boot the rescue image from its medium (ISO, USB, PXE), or add a menu entry for "
            "rear-$HOSTNAME.efi (OUTPUT=UKI) yourself; set GRUB_RESCUE=n",
        )


# Debian's signed boot chain in the restored system, and the packages that hold it.
SIGNED_CHAIN_FILES = ("usr/lib/shim/shimx64.efi.signed", "usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed")
SIGNED_CHAIN_PACKAGES = ("shim-signed", "grub-efi-amd64-signed")


@dataclass(frozen=True)
class BootPlan:
    firmware: Firmware
    disks: tuple[str, ...]  # where GRUB goes (BIOS: the MBR/boot-partition disks; UEFI: the ESP's disk)
    esp_mountpoint: str | None
    grub_install: str | None  # path inside the restored system, None when it has no grub-install
    secure_boot: bool = False  # UEFI through the restored system's signed shim and GRUB
    missing_signed: tuple[str, ...] = ()  # packages Secure Boot needs that the restored system lacks

    def commands(self, root: Path) -> list[list[str]]:
        if self.grub_install is None:
            return []
        base = ["chroot", str(root), self.grub_install, f"--target={self.firmware.grub_target}", "--recheck"]
        if self.firmware is Firmware.UEFI:
            # grub-install writes the NVRAM boot entry itself through efibootmgr when efivars are mounted; with
            # --uefi-secure-boot that entry points at shim
            signed = ["--uefi-secure-boot"] if self.secure_boot else []
            return [[*base, f"--efi-directory={self.esp_mountpoint}", *signed]]
        return [[*base, disk] for disk in self.disks]


def _find_grub_install(root: Path) -> str | None:
    """The restored system's grub-install, looked up as its chroot sees it (a link never leads to the rescue
    system's own)."""
    for candidate in ("usr/sbin/grub-install", "usr/sbin/grub2-install", "sbin/grub-install", "sbin/grub2-install"):
        if target.locate(root, candidate) is not None:
            return "/" + candidate
    return None


def boot_disks(layout: Layout, explicit: tuple[str, ...] = ()) -> tuple[str, ...]:
    """GRUB2_INSTALL_DEVICES if given, else every disk with a BIOS boot partition, else the disks whose
    partition carries the boot flag, else the disk of /boot or / (ReaR's order of guesses)."""
    if explicit:
        return explicit
    parts = [r for r in layout.active if isinstance(r, Part)]
    bios = tuple(dict.fromkeys(p.disk for p in parts if PartFlag.BIOS_GRUB in p.flags))
    if bios:
        return bios
    flagged = tuple(dict.fromkeys(p.disk for p in parts if PartFlag.BOOT in p.flags))
    if flagged:
        return flagged
    disks = {r.device for r in layout.active if isinstance(r, Disk)}
    for mountpoint in ("/boot", "/"):
        for fs in (r for r in layout.active if isinstance(r, Fs) and r.mountpoint == mountpoint):
            part = next((p for p in parts if p.device == fs.device), None)
            if part is not None:
                return (part.disk,)
            if fs.device in disks:
                return (fs.device,)
    return ()


def esp_mountpoint(layout: Layout) -> str | None:
    for fs in (r for r in layout.active if isinstance(r, Fs)):
        if fs.mountpoint in ("/boot/efi", "/efi", "/boot") and fs.fstype is FsType.VFAT:
            return fs.mountpoint
    return None


def plan_boot(
    layout: Layout,
    root: Path,
    *,
    firmware: Firmware,
    explicit: tuple[str, ...] = (),
    secure_boot_on: bool = False,
) -> BootPlan:
    """secure_boot_on: this machine runs with Secure Boot on (the rescue system was booted so), so the restored
    system must boot through a signed chain."""
    missing = tuple(
        pkg
        for path, pkg in zip(SIGNED_CHAIN_FILES, SIGNED_CHAIN_PACKAGES, strict=True)
        if not target.locate(root, path)
    )
    uefi = firmware is Firmware.UEFI
    return BootPlan(
        firmware=firmware,
        disks=boot_disks(layout, explicit),
        esp_mountpoint=esp_mountpoint(layout),
        grub_install=_find_grub_install(root),
        secure_boot=uefi and not missing,
        missing_signed=missing if uefi and secure_boot_on else (),
    )


_BY_HAND = (
    "THE RECOVERED SYSTEM HAS NO BOOT LOADER YET: install one by hand before rebooting, e.g. "
    "mount --rbind /dev {root}/dev; mount --rbind /proc {root}/proc; mount --rbind /sys {root}/sys; "
    "chroot {root} grub-install /dev/<boot disk>"
)


def install(boot: BootPlan, root: Path) -> bool:
    """Run the plan's grub-install commands in the restored system; True when the boot loader is installed.
    What cannot be done is a warning that says exactly what to do by hand, as ReaR does: the restored files are
    worth more than a failed recovery."""
    commands = boot.commands(root)
    if boot.missing_signed:
        notice(
            "WARNING: this machine runs with Secure Boot on, but the restored system lacks %s: it will not boot "
            "until you install them (chroot %s apt-get install %s; grub-install --uefi-secure-boot) or switch "
            "Secure Boot off in the firmware",
            ", ".join(boot.missing_signed),
            root,
            " ".join(boot.missing_signed),
        )
    if not commands:
        why = "the restored system has no grub-install" if boot.grub_install is None else "no boot disk is known"
        notice("WARNING: %s. %s", why, _BY_HAND.format(root=root))
        return False
    with chroot_mounts(root):
        for command in commands:
            notice("installing the boot loader: %s", " ".join(command[2:]))
            try:
                run(command, timeout=600)
            except UserError as exc:
                notice("WARNING: %s. %s", exc.message, _BY_HAND.format(root=root))
                return False
    return True
