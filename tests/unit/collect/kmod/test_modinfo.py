"""The .modinfo section of plain, compressed and corrupt module files."""

from __future__ import annotations

from pathlib import Path

import pytest

from rearbuild.collect.kmod.modinfo import read_modinfo
from rearbuild.errors import UserError
from tests.unit.collect.kmod.tree import KVER


def test_corrupt_module_is_a_user_error(tree: Path) -> None:
    path = tree / "lib/modules" / KVER / "kernel/misc/post.ko"
    path.write_bytes(b"not an elf file at all, but long enough to have a header" * 2)
    with pytest.raises(UserError, match=r"post\.ko: not an ELF file"):
        read_modinfo(path)


def test_compressed_modules_modinfo(tree: Path) -> None:
    moddir = tree / "lib/modules" / KVER
    xz = read_modinfo(moddir / "kernel/drivers/net/wifi/wlan.ko.xz")
    assert xz.get("firmware") == ("vendor/wlan.bin", "vendor/gone.bin")
    assert xz.get("name") == ("wlan",)
    assert read_modinfo(moddir / "kernel/drivers/net/nic.ko.gz").get("firmware") == ("nic/fw.bin",)
