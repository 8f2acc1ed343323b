"""The rescue ISO's settings: kernel command line, extra files, the file size limit, the EFI loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from rearbuild.errors import UserError
from rearbuild.output.bootloader import EfiLoader, find_signed_shim
from rearbuild.output.rescue_iso import check_file_sizes, extra_iso_files, rescue_cmdline


def test_consoles_first_then_the_user_then_copied_parameters_once() -> None:
    words = rescue_cmdline(["net.ifnames=0", "debug"], copied=["net.ifnames=0", "biosdevname=0"])
    assert words == ["console=tty0", "console=ttyS0,115200", "net.ifnames=0", "debug", "biosdevname=0"]


def test_extra_files_at_the_root_and_from_stages(tmp_path: Path) -> None:
    files = extra_iso_files([str(tmp_path / "notes" / "README")], {"backup/backup.tar.gz": tmp_path / "a.tgz"})
    assert files == {"/README": tmp_path / "notes" / "README", "/backup/backup.tar.gz": tmp_path / "a.tgz"}


def test_a_file_at_the_limit_is_refused(tmp_path: Path) -> None:
    initrd = tmp_path / "initrd"
    initrd.write_bytes(b"x" * 100)
    check_file_sizes({"initrd": initrd}, 101)
    with pytest.raises(UserError, match=r"initrd \(100 bytes\) is larger than ISO_FILE_SIZE_LIMIT"):
        check_file_sizes({"initrd": initrd}, 100)


def test_efi_loader_settings() -> None:
    assert EfiLoader.for_settings(False, "") is None  # BIOS only
    assert EfiLoader.for_settings(None, "no") is EfiLoader.STANDALONE_GRUB
    signed = find_signed_shim() is not None
    assert EfiLoader.for_settings(True, "") is (EfiLoader.SIGNED_SHIM if signed else EfiLoader.STANDALONE_GRUB)
    if signed:  # ReaR's SECURE_BOOT_BOOTLOADER holds the signed loader's path
        assert EfiLoader.for_settings(None, "/usr/lib/shim/shimx64.efi.signed") is EfiLoader.SIGNED_SHIM
    else:
        with pytest.raises(UserError, match="signed shim"):
            EfiLoader.for_settings(None, "/usr/lib/shim/shimx64.efi.signed")
