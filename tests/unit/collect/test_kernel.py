"""Finding the kernel image and its version."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from rearbuild.collect.kernel import KernelImage, bzimage_version, find_kernel, kernel_version
from rearbuild.errors import UserError
from tests.unit.collect.kmod.tree import KVER, make_tree


def test_kernel_found_by_versioned_name_and_errors_name_installed_versions(tmp_path: Path) -> None:
    (tmp_path / "boot").mkdir()
    with pytest.raises(UserError) as error:
        kernel_version(tmp_path, None)
    assert "no modules tree" in error.value.message and "no kernel modules are installed" in error.value.message
    make_tree(tmp_path, {"kernel/fs/a.ko": ([], [])})
    with pytest.raises(UserError) as error:
        kernel_version(tmp_path, None)  # the running kernel is not KVER
    assert "the running kernel" in error.value.message and f"installed kernel versions: {KVER}" in error.value.message
    assert error.value.hint is not None and f"-r {KVER}" in error.value.hint
    assert kernel_version(tmp_path, KVER) == KVER
    with pytest.raises(UserError, match="no kernel image found"):
        find_kernel(tmp_path, KVER)
    (tmp_path / f"boot/vmlinuz-{KVER}").write_bytes(b"kernel")
    assert find_kernel(tmp_path, KVER) == KernelImage(KVER, tmp_path / f"boot/vmlinuz-{KVER}")
    with pytest.raises(UserError, match="KERNEL_FILE"):
        find_kernel(tmp_path, KVER, Path("/boot/nonexistent"))


def test_unversioned_kernel_name_is_matched_by_its_embedded_version(tmp_path: Path) -> None:
    # x86 boot protocol: "HdrS" at 0x202, protocol 2.15 at 0x206, kernel_version pointer at 0x20E
    image = bytearray(0x400)
    struct.pack_into("<4sH6xH", image, 0x202, b"HdrS", 0x20F, 0x100)
    image[0x300 : 0x300 + 40] = f"{KVER} (debian-kernel@lists.debian.org)\0".encode()[:40]
    (tmp_path / "boot").mkdir()
    (tmp_path / "boot/vmlinuz-linux").write_bytes(bytes(image))
    assert bzimage_version(tmp_path / "boot/vmlinuz-linux") == KVER
    assert find_kernel(tmp_path, KVER).path == tmp_path / "boot/vmlinuz-linux"
    with pytest.raises(UserError):
        find_kernel(tmp_path, "5.10.0-other")
