"""Secure Boot of the rescue media as a setting (rearbuild.output.secureboot): which EFI chain, the packages
named when it is missing, and the Authenticode checks of the loaders and the kernel."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

from rearbuild.errors import UserError
from rearbuild.output import secureboot
from rearbuild.output.bootloader import EfiLoader
from rearbuild.output.secureboot import SecureBootMode, authenticode_signed, check_kernel, plan_efi_boot
from rearbuild.secureboot import SecureBootState

ON, OFF = SecureBootState.ENABLED, SecureBootState.DISABLED


def _pe(signed: bool) -> bytes:
    """A minimal PE32+ image (PE/COFF spec): DOS stub, COFF header, optional header with 16 data directories;
    signed: a WIN_CERTIFICATE after the headers, named by data directory 4 (the Certificate Table)."""
    optional = bytearray(240)
    struct.pack_into("<H", optional, 0, 0x20B)  # PE32+
    struct.pack_into("<III", optional, 32, 0x1000, 0x200, 0)  # SectionAlignment, FileAlignment
    struct.pack_into("<I", optional, 60, 0x200)  # SizeOfHeaders
    struct.pack_into("<I", optional, 108, 16)  # NumberOfRvaAndSizes
    cert = struct.pack("<IHH", 16, 0x200, 2) + bytes(8)  # dwLength, revision 2.0, WIN_CERT_TYPE_PKCS_SIGNED_DATA
    if signed:
        struct.pack_into("<II", optional, 112 + 4 * 8, 0x200, len(cert))
    headers = b"MZ" + bytes(0x3A) + struct.pack("<I", 0x40) + b"PE\0\0"
    headers += struct.pack("<HHIIIHH", 0x8664, 0, 0, 0, 0, len(optional), 0x22) + bytes(optional)
    return headers.ljust(0x200, b"\0") + (cert if signed else b"")


def _pair(tmp_path: Path, *, shim: bool = True, grub: bool = True, signed: bool = True) -> tuple[tuple[Path, Path]]:
    paths = (tmp_path / "shim" / "shimx64.efi.signed", tmp_path / "grub" / "gcdx64.efi.signed")
    for path, wanted in zip(paths, (shim, grub), strict=True):
        if wanted:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(_pe(signed))
    return (paths,)


def test_authenticode_signature_presence(tmp_path: Path) -> None:
    (tmp_path / "signed").write_bytes(_pe(True))
    (tmp_path / "unsigned").write_bytes(_pe(False))
    (tmp_path / "elf").write_bytes(b"\x7fELF" + bytes(100))
    assert authenticode_signed(tmp_path / "signed")
    assert not authenticode_signed(tmp_path / "unsigned")
    assert not authenticode_signed(tmp_path / "elf")


def test_modes_from_the_setting_and_the_host() -> None:
    assert SecureBootMode.from_settings("no", ON) is SecureBootMode.OFF
    assert SecureBootMode.from_settings("", OFF) is SecureBootMode.IF_INSTALLED
    assert SecureBootMode.from_settings("", SecureBootState.BIOS) is SecureBootMode.IF_INSTALLED
    assert SecureBootMode.from_settings("", ON) is SecureBootMode.REQUIRED  # auto: the host boots with it
    assert SecureBootMode.from_settings("/usr/lib/shim/shimx64.efi.signed", OFF) is SecureBootMode.REQUIRED
    assert SecureBootMode.from_settings("yes", OFF) is SecureBootMode.REQUIRED


def test_the_signed_chain_is_chosen_when_installed(tmp_path: Path) -> None:
    pairs = _pair(tmp_path)
    assert plan_efi_boot(False, "", ON, pairs=pairs) is None  # USING_UEFI_BOOTLOADER=no: BIOS only
    boot = plan_efi_boot(None, "", ON, pairs=pairs)
    assert boot is not None and boot.loader is EfiLoader.SIGNED_SHIM and boot.requires_signed_kernel
    assert boot.chain is not None and boot.chain.shim == pairs[0][0] and boot.chain.grub == pairs[0][1]
    quiet = plan_efi_boot(None, "", OFF, pairs=pairs)
    assert quiet is not None and quiet.loader is EfiLoader.SIGNED_SHIM and not quiet.requires_signed_kernel
    off = plan_efi_boot(None, "no", ON, pairs=pairs)
    assert off is not None and off.loader is EfiLoader.STANDALONE_GRUB and off.chain is None


def test_missing_signed_binaries_name_the_package(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"Secure Boot on.*\(shim-signed missing\)") as err:
        plan_efi_boot(None, "", ON, pairs=_pair(tmp_path / "a", shim=False))
    assert err.value.hint and "apt-get install shim-signed" in err.value.hint
    with pytest.raises(UserError, match=r"grub-efi-amd64-signed missing"):
        plan_efi_boot(None, "yes", OFF, pairs=_pair(tmp_path / "b", grub=False))
    # without Secure Boot on the host and no setting, a standalone GRUB is fine
    boot = plan_efi_boot(None, "", OFF, pairs=_pair(tmp_path / "c", shim=False, grub=False))
    assert boot is not None and boot.loader is EfiLoader.STANDALONE_GRUB


def test_a_shim_path_takes_the_grub_beside_it(tmp_path: Path) -> None:
    esp = tmp_path / "esp" / "EFI" / "debian"
    esp.mkdir(parents=True)
    (esp / "shimx64.efi").write_bytes(_pe(True))
    (esp / "grubx64.efi").write_bytes(_pe(True))
    boot = plan_efi_boot(None, str(esp / "shimx64.efi"), OFF, pairs=_pair(tmp_path))
    assert boot is not None and boot.chain is not None and boot.chain.grub == esp / "grubx64.efi"
    alone = tmp_path / "alone" / "shimx64.efi"
    alone.parent.mkdir()
    alone.write_bytes(_pe(True))
    pairs = _pair(tmp_path)
    boot = plan_efi_boot(None, str(alone), OFF, pairs=pairs)
    assert boot is not None and boot.chain is not None and boot.chain.grub == pairs[0][1]


def test_a_wrong_shim_path_or_an_unsigned_shim_stops(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"SECURE_BOOT_BOOTLOADER=/nonexistent/shim\.efi: no such file"):
        plan_efi_boot(None, "/nonexistent/shim.efi", OFF, pairs=_pair(tmp_path / "a"))
    with pytest.raises(UserError, match=r"shim .*shimx64\.efi\.signed is not signed"):
        plan_efi_boot(None, "", ON, pairs=_pair(tmp_path / "b", signed=False))


def test_an_unsigned_kernel_is_refused_only_when_secure_boot_is_required(tmp_path: Path) -> None:
    kernel = tmp_path / "vmlinuz-unsigned"
    kernel.write_bytes(_pe(False))
    required = plan_efi_boot(None, "", ON, pairs=_pair(tmp_path / "a"))
    with pytest.raises(UserError, match=r"the kernel .*vmlinuz-unsigned is not signed") as err:
        check_kernel(kernel, required)
    assert err.value.hint and "SECURE_BOOT_BOOTLOADER=no" in err.value.hint
    check_kernel(kernel, plan_efi_boot(None, "", OFF, pairs=_pair(tmp_path / "b")))
    check_kernel(kernel, None)
    (tmp_path / "signed").write_bytes(_pe(True))
    check_kernel(tmp_path / "signed", required)


def test_a_shim_from_an_esp_gets_its_grub_cfg_where_its_grub_looks(tmp_path: Path) -> None:
    esp = tmp_path / "boot" / "efi" / "EFI" / "fedora"
    esp.mkdir(parents=True)
    for name in ("shimx64.efi", "grubx64.efi"):
        (esp / name).write_bytes(_pe(True))
    boot = plan_efi_boot(None, str(esp / "shimx64.efi"), OFF, pairs=_pair(tmp_path))
    assert boot is not None and boot.chain is not None
    files = boot.loader.efi_files(tmp_path, early_config="configfile x\n", chain=boot.chain)
    assert files["EFI/BOOT/BOOTX64.EFI"] == esp / "shimx64.efi" and files["EFI/BOOT/grubx64.efi"] == esp / "grubx64.efi"
    assert files["EFI/fedora/grub.cfg"] == files["EFI/BOOT/grub.cfg"] == b"configfile x\n"
    debian = plan_efi_boot(None, "", ON, pairs=_pair(tmp_path / "d"))
    assert debian is not None and debian.chain is not None and debian.chain.vendor_dir is None


def test_prep_recipes_load_where_pefile_is_absent() -> None:
    """The rescue system carries no pefile (rearbuild.collect.python), yet `rear mkbackuponly` there loads prep's
    recipes, among them the Secure Boot check: loading it must not need pefile (it failed with a "BUG" before)."""
    recipe = Path(__file__).parents[3] / "recipes/prep/GNU/Linux/410_secure_boot.py"
    code = (
        "import importlib.util, sys\n"
        "sys.modules['pefile'] = None  # as if not installed: importing it raises ImportError\n"
        f"spec = importlib.util.spec_from_file_location('recipe', {str(recipe)!r})\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_certificate_table_is_pefiles_security_directory() -> None:
    import pefile  # type: ignore[import-untyped,unused-ignore]

    assert pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_SECURITY"] == secureboot.CERTIFICATE_TABLE
