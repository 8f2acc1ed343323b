"""Boot loader files (rearbuild.output.bootloader): isolinux found with its modules, the EFI loader's choice."""

from __future__ import annotations

from pathlib import Path

import pytest

from rearbuild.errors import UserError
from rearbuild.output.bootloader import EfiLoader, find_isolinux


def test_find_isolinux_names_the_missing_module(tmp_path: Path) -> None:
    (tmp_path / "isolinux.bin").write_bytes(b"")
    (tmp_path / "ldlinux.c32").write_bytes(b"")
    with pytest.raises(UserError, match=r"menu\.c32") as err:
        find_isolinux([(tmp_path, tmp_path)], modules=("ldlinux.c32", "menu.c32"))
    assert err.value.hint and "syslinux" in err.value.hint
    with pytest.raises(UserError) as missing:
        find_isolinux([(tmp_path / "none", tmp_path)])
    assert missing.value.hint and "apt-get install isolinux" in missing.value.hint


def test_efi_loader_choice() -> None:
    assert EfiLoader.SIGNED_SHIM.secure_boot and EfiLoader.SIGNED_SHIM.needs_disk_info
    assert not EfiLoader.STANDALONE_GRUB.secure_boot
