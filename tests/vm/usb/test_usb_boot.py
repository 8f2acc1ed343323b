"""USB media boot in QEMU (TCG) to the real rescue system: the USB image file on SeaBIOS and OVMF, and with Debian's
signed shim and GRUB on OVMF with Secure Boot enforced; the RAWDISK image on both firmwares; a stick made
by `format` and two runs lists both rescue systems and each boots (the newest by default on SeaBIOS, the older
one chosen in the GRUB menu on OVMF); the ISO `write` put on a loop device boots from that device. The verdict is
the ready line on the serial console, and the kernel's "Command line:" naming the rescue system's directory."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from rearbuild.run import run
from tests.vm.qemu import Guest, ovmf, qemu
from tests.vm.usb.conftest import SECOND_RUN, UsbMedia

pytestmark = [pytest.mark.slow, pytest.mark.vm]

READY = r"rearbuild rescue system ready"
BOOT_TIMEOUT = 300  # a busy 2-core machine; idle it takes a fraction of this
DOWN = "\x1b[B"  # the cursor key as a serial terminal sends it (GRUB's terminfo, vt100)


def _disk(path: Path) -> list[str]:
    return ["-drive", f"file={path},format=raw,if=virtio"]


def _boot(argv: list[str], log: Path, what: str, *, keys: str = "") -> str:
    guest = Guest(argv, log)
    try:
        if keys:
            guest.wait_for(r"Relax-and-Recover", BOOT_TIMEOUT)
            guest.type(keys)
        guest.wait_for(READY, BOOT_TIMEOUT)
        print(f"\n{what}: power-on to '{READY}' in {guest.elapsed():.1f} s")
        return guest.console
    finally:
        guest.close()


def _command_line(console: str) -> str:
    found = re.search(r"Command line: (.*)", console)
    assert found, console[-3000:]
    return found.group(1)


def test_usb_image_file_boots_on_seabios_and_ovmf(usb_media: UsbMedia, tmp_path: Path) -> None:
    disk = tmp_path / "disk.img"
    shutil.copyfile(usb_media.image, disk)  # the guest may write to it; the built image stays as it was
    console = _boot(qemu(*_disk(disk)), tmp_path / "bios.log", "USB image, SeaBIOS")
    assert "BOOT_IMAGE=/rear/" in _command_line(console)
    console = _boot(qemu(*ovmf(tmp_path), *_disk(disk)), tmp_path / "uefi.log", "USB image, OVMF")
    assert "BOOT_IMAGE=/rear/" in _command_line(console)


def test_rawdisk_boots_on_seabios_and_ovmf(usb_media: UsbMedia, tmp_path: Path) -> None:
    disk = tmp_path / "raw.img"
    shutil.copyfile(usb_media.rawdisk, disk)
    console = _boot(qemu(*_disk(disk)), tmp_path / "bios.log", "RAWDISK, SeaBIOS")
    assert "BOOT_IMAGE=/rear/" in _command_line(console)
    console = _boot(qemu(*ovmf(tmp_path), *_disk(disk)), tmp_path / "uefi.log", "RAWDISK, OVMF")
    assert "BOOT_IMAGE=/rear/" in _command_line(console)


def test_usb_image_with_the_signed_chain_boots_with_secure_boot_on(usb_media: UsbMedia, tmp_path: Path) -> None:
    disk = tmp_path / "secure.img"
    shutil.copyfile(usb_media.secure_image, disk)
    guest = Guest(qemu(*ovmf(tmp_path, secure=True), *_disk(disk)), tmp_path / "sb.log")
    try:
        guest.wait_for(READY, BOOT_TIMEOUT)
        print(f"\nUSB image, OVMF Secure Boot: power-on to '{READY}' in {guest.elapsed():.1f} s")
        assert "BOOT_IMAGE=/rear/" in _command_line(guest.console)
        guest.wait_for(r"RESCUE [^\n]*# ", 60)
        # the firmware really enforced it: the rescue system reads the SecureBoot variable (rearbuild.secureboot)
        status, out = guest.shell(
            "grep -q efivarfs /proc/mounts || mount -t efivarfs efivarfs /sys/firmware/efi/efivars; "
            "rear dump > /tmp/dump 2>&1; grep SECURE_BOOT_STATE /tmp/dump || tail -5 /tmp/dump",  # or its error
            timeout=120,
        )
        assert status == 0 and "enabled" in out, out
    finally:
        guest.close()


def test_stick_menu_lists_both_runs_and_each_boots(usb_media: UsbMedia, tmp_path: Path) -> None:
    newest, older = usb_media.systems
    assert newest.name != older.name
    for system in (newest, older):
        assert f"linux /{system.directory}/kernel" in usb_media.menu
    console = _boot(qemu(*_disk(usb_media.stick)), tmp_path / "bios.log", "stick, SeaBIOS, newest entry")
    line = _command_line(console)
    assert f"/{newest.directory}/kernel" in line and SECOND_RUN in line
    # the older rescue system is the third entry (each system has a rescue and an automatic entry)
    console = _boot(qemu(*ovmf(tmp_path), *_disk(usb_media.stick)), tmp_path / "uefi.log",
                    "stick, OVMF, older entry", keys=DOWN + DOWN + "\r")  # fmt: skip
    line = _command_line(console)
    assert f"/{older.directory}/kernel" in line and SECOND_RUN not in line


@pytest.fixture
def loop_device(tmp_path: Path) -> Iterator[Path]:
    backing = tmp_path / "loopdisk"
    with backing.open("wb") as fp:
        fp.truncate(512 * 2**20)
    device = Path(run(["losetup", "--find", "--show", backing]).out.strip())
    try:
        yield device
    finally:
        run(["losetup", "-d", device], check=False)


def test_written_loop_device_verifies_and_boots(usb_media: UsbMedia, loop_device: Path, tmp_path: Path) -> None:
    argv = [*usb_media.argv, "write", str(loop_device), str(usb_media.iso), "--yes", "--force"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0 and "verified" in result.stderr, result.stderr
    _boot(qemu(*_disk(loop_device)), tmp_path / "bios.log", "ISO written to a loop device, SeaBIOS")
