"""Patching device names in the restored system's files (recover/patch.py): only files of the restored system,
resolved as in a chroot of it, are changed."""

from __future__ import annotations

import os
from pathlib import Path

from rearbuild.recover.patch import patch_files, patch_text

MAPPINGS = {"/dev/sda1": "/dev/vdb1", "/dev/sdb1": "/dev/sda1"}  # partitions are mapped one by one


def test_swapped_names_come_out_right() -> None:
    assert patch_text("/dev/sda1 / ext4\n/dev/sdb1 /home ext4\n/dev/sda11 /srv\n", MAPPINGS) == (
        "/dev/vdb1 / ext4\n/dev/sda1 /home ext4\n/dev/sda11 /srv\n"
    )


def test_files_are_patched_in_place_keeping_mode_and_owner(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "boot/efi/EFI/debian").mkdir(parents=True)
    (root / "etc/fstab").write_text("/dev/sda1 / ext4 defaults 0 1\n")
    os.chmod(root / "etc/fstab", 0o640)
    (root / "boot/efi/EFI/debian/grub.cfg").write_text("root=/dev/sdb1\n")
    changed = patch_files(root, MAPPINGS)
    assert changed == [root / "etc/fstab", root / "boot/efi/EFI/debian/grub.cfg"]
    assert (root / "etc/fstab").read_text() == "/dev/vdb1 / ext4 defaults 0 1\n"
    assert os.stat(root / "etc/fstab").st_mode & 0o777 == 0o640
    assert (root / "boot/efi/EFI/debian/grub.cfg").read_text() == "root=/dev/sda1\n"


def test_links_of_the_restored_system_never_lead_out_of_it(tmp_path: Path) -> None:
    """etc -> <elsewhere> and boot -> ../../elsewhere in the restored system mean its own <elsewhere>: the files
    outside the target stay as they are."""
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    (elsewhere / "grub").mkdir(parents=True)
    (elsewhere / "fstab").write_text("/dev/sda1 / ext4\n")
    (elsewhere / "grub/grub.cfg").write_text("root=/dev/sda1\n")
    root.mkdir()
    (root / "etc").symlink_to(elsewhere)
    (root / "boot").symlink_to("../../../elsewhere")
    inside = root / str(elsewhere).lstrip("/")
    inside.mkdir(parents=True)
    (inside / "fstab").write_text("/dev/sda1 / ext4\n")
    (root / "elsewhere/grub").mkdir(parents=True)
    (root / "elsewhere/grub/grub.cfg").write_text("root=/dev/sda1\n")
    (root / "elsewhere/grub/device.map").symlink_to(elsewhere / "grub/grub.cfg")  # a link itself: left alone
    changed = patch_files(root, MAPPINGS)
    assert (elsewhere / "fstab").read_text() == "/dev/sda1 / ext4\n"
    assert (elsewhere / "grub/grub.cfg").read_text() == "root=/dev/sda1\n"
    assert (inside / "fstab").read_text() == "/dev/vdb1 / ext4\n"
    assert (root / "elsewhere/grub/grub.cfg").read_text() == "root=/dev/vdb1\n"
    assert changed == [inside / "fstab", root / "elsewhere/grub/grub.cfg"]
