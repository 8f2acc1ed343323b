"""Secure Boot of the rescue media as a setting: which EFI chain every EFI boot path uses, checked in prep.

ReaR's SECURE_BOOT_BOOTLOADER (rear-upstream-study.md §4.4, §7.2): a non-empty value is the path of the signed
shim and switches the signed chain on; its second stage is the `grub*.efi` beside it (rear#702), else the
distribution's signed GRUB. rearbuild adds:

- auto: empty on a host that booted with Secure Boot on means the same as a path: the media must boot where
  the host boots, so the distribution's signed shim + signed GRUB are required (missing: prep stops and names
  the package);
- empty on a host without Secure Boot: the signed chain when installed (it boots with Secure Boot on and off),
  else a standalone GRUB;
- a no-word (`no`, `n`, `false`, `0`): a standalone GRUB, which firmware with Secure Boot on refuses.

With Secure Boot required, the kernel must be signed too (shim checks it through its protocol before GRUB may
start it, peer-techniques.md §D3): an unsigned kernel is refused at build time, not found out at boot. The
check is the Authenticode signature's presence (PE/COFF Certificate Table), not its trust: the firmware and
shim check that against their keys.

Every EFI path (today the ISO's El Torito image; USB, PXE/HTTP and RAWDISK later) takes its files from the
EfiBoot decided here, so one setting means the same everywhere.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rearbuild.config.model import truth
from rearbuild.errors import UserError
from rearbuild.output.bootloader import (
    SIGNED_PACKAGES,
    SIGNED_PACKAGES_ELSEWHERE,
    SIGNED_SHIM_PAIRS,
    EfiLoader,
    SignedShim,
    find_signed_shim,
)
from rearbuild.secureboot import SecureBootState

# PE/COFF specification, "Optional Header Data Directories (Image Only)": entry 4 is the Certificate Table,
# where an Authenticode signature (WIN_CERTIFICATE, PKCS#7) lives; its VirtualAddress is a file offset.
CERTIFICATE_TABLE = 4
_SIGNED_KERNEL_HINT = (
    "use the distribution's signed kernel (Debian: apt-get install linux-image-amd64, signed by Debian; "
    "KERNEL_FILE to choose it), sign this one with sbsign and enrol the key with mokutil --import, "
    "or set SECURE_BOOT_BOOTLOADER=no for media that boot only with Secure Boot off"
)


def authenticode_signed(path: Path) -> bool:
    """Whether the PE image at `path` carries an Authenticode signature (a present, non-empty Certificate
    Table). False for files that are no PE image at all (a kernel without EFI stub)."""
    # imported here: the rescue system carries no pefile (rearbuild.collect.python, build-host only) and still
    # loads this module with prep's recipes (mkbackuponly, checklayout), which never check a signature there
    import pefile  # type: ignore[import-untyped,unused-ignore]

    try:
        image = pefile.PE(str(path), fast_load=True)
    except pefile.PEFormatError:
        return False
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        return carries_signature(image)
    finally:
        image.close()


def carries_signature(image: Any) -> bool:
    """Whether a parsed PE image (pefile.PE) has a present, non-empty Certificate Table."""
    directories = image.OPTIONAL_HEADER.DATA_DIRECTORY
    if len(directories) <= CERTIFICATE_TABLE:
        return False
    table = directories[CERTIFICATE_TABLE]
    return bool(table.VirtualAddress) and table.Size > 0


class SecureBootMode(enum.Enum):
    OFF = "off"  # standalone GRUB
    IF_INSTALLED = "if-installed"  # the signed chain when the distribution's is installed
    REQUIRED = "required"  # the signed chain, a signed kernel, or prep stops

    @classmethod
    def from_settings(cls, setting: str, host: SecureBootState) -> SecureBootMode:
        if truth(setting) is False:
            return cls.OFF
        if setting.strip() or host.enabled:
            return cls.REQUIRED
        return cls.IF_INSTALLED


@dataclass(frozen=True)
class EfiBoot:
    """How every EFI boot path of the rescue media boots."""

    loader: EfiLoader
    chain: SignedShim | None  # set for EfiLoader.SIGNED_SHIM
    mode: SecureBootMode

    @property
    def requires_signed_kernel(self) -> bool:
        return self.mode is SecureBootMode.REQUIRED


def _missing_signed(pairs: tuple[tuple[Path, Path], ...], why: str) -> UserError:
    shim, grub = pairs[0]
    missing = [pkg for path, pkg in zip((shim, grub), SIGNED_PACKAGES, strict=True) if not path.is_file()]
    names = " ".join(missing or SIGNED_PACKAGES)
    return UserError(
        f"{why}, but the distribution's signed shim and GRUB are not installed ({names} missing)",
        hint=f"apt-get install {names} ({SIGNED_PACKAGES_ELSEWHERE}), "
        "or SECURE_BOOT_BOOTLOADER=no for media that boot only with Secure Boot off",
    )


def _chain_from_path(setting: str, pairs: tuple[tuple[Path, Path], ...]) -> SignedShim:
    shim = Path(setting.strip())
    if not shim.is_file():
        raise UserError(
            f"SECURE_BOOT_BOOTLOADER={setting}: no such file",
            hint=f"set it to the signed shim (Debian: {pairs[0][0]} from shim-signed) or leave it empty",
        )
    # ReaR copies $(dirname shim)/grub*.efi next to the shim (rear#702): a shim from an ESP has its GRUB there.
    beside = sorted(shim.parent.glob("grub*.efi"))
    grub = beside[0] if beside else next((g for _, g in pairs if g.is_file()), None)
    if grub is None:
        raise _missing_signed(pairs, f"SECURE_BOOT_BOOTLOADER={setting} needs a signed GRUB")
    return SignedShim(shim=shim, grub=grub)


def _check_signed(chain: SignedShim) -> None:
    for what, path in (("shim", chain.shim), ("GRUB", chain.grub)):
        if not authenticode_signed(path):
            raise UserError(
                f"the Secure Boot {what} {path} is not signed: firmware with Secure Boot on refuses it",
                hint=f"use the distribution's signed files (apt-get install {' '.join(SIGNED_PACKAGES)})",
            )


def plan_efi_boot(
    uefi: bool | None,
    setting: str,
    host: SecureBootState,
    *,
    pairs: tuple[tuple[Path, Path], ...] = SIGNED_SHIM_PAIRS,
) -> EfiBoot | None:
    """USING_UEFI_BOOTLOADER (False: BIOS-only media, None) and SECURE_BOOT_BOOTLOADER, with the Secure Boot
    state of the host the image is made for. Raises UserError when Secure Boot is required and cannot be had."""
    if uefi is False:
        return None
    mode = SecureBootMode.from_settings(setting, host)
    if mode is SecureBootMode.OFF:
        return EfiBoot(EfiLoader.STANDALONE_GRUB, None, mode)
    chain: SignedShim | None
    if setting.strip() and truth(setting) is not True:
        chain = _chain_from_path(setting, pairs)
    else:  # empty, or ReaR-style `yes`
        chain = find_signed_shim(pairs)
        if chain is None:
            if mode is SecureBootMode.IF_INSTALLED:
                return EfiBoot(EfiLoader.STANDALONE_GRUB, None, mode)
            why = "this host boots with Secure Boot on" if not setting.strip() else "SECURE_BOOT_BOOTLOADER is set"
            raise _missing_signed(pairs, why)
    if mode is SecureBootMode.REQUIRED:
        _check_signed(chain)
    return EfiBoot(EfiLoader.SIGNED_SHIM, chain, mode)


def check_kernel(kernel: Path, boot: EfiBoot | None) -> None:
    """Refuse an unsigned kernel when the media must boot with Secure Boot on."""
    if boot is None or not boot.requires_signed_kernel:
        return
    if not authenticode_signed(kernel):
        raise UserError(
            f"the kernel {kernel} is not signed (no Authenticode signature): with Secure Boot on, shim refuses "
            "to start it",
            hint=_SIGNED_KERNEL_HINT,
        )


def efi_boot_for(uefi: bool | None, setting: str, host: SecureBootState, kernel: Path) -> EfiBoot | None:
    """plan_efi_boot, then check_kernel: what prep and every EFI output call before building."""
    boot = plan_efi_boot(uefi, setting, host)
    check_kernel(kernel, boot)
    return boot
