"""The rescue image of this machine boots on BIOS and UEFI into a usable rescue system (issue: the rescue
image). Verdicts come from the serial console: the ready line, then commands typed into the rescue shell."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from tests.vm.conftest import RescueImage
from tests.vm.qemu import Guest, cdrom, ovmf, qemu

pytestmark = [pytest.mark.slow, pytest.mark.vm]

READY = r"rearbuild rescue system ready"
BOOT_TIMEOUT = 150


def test_result_files_at_output_url(rescue_image: RescueImage) -> None:
    iso = rescue_image.iso
    assert iso.is_file(), f"no ISO at {iso}: {sorted(rescue_image.output_dir.iterdir())}"
    digest, name = (iso.parent / f"{iso.name}.sha256").read_text().split()
    assert name == iso.name and digest == hashlib.sha256(iso.read_bytes()).hexdigest()
    logs = list(rescue_image.output_dir.glob("rear-*.log"))
    assert logs and "stage pack" in logs[0].read_text()
    report = subprocess.run(["xorriso", "-indev", str(iso), "-pvd_info"], capture_output=True, text=True)
    assert "Volume Id    : RELAXRECOVER" in report.stdout


def _boot(argv: list[str], log: Path) -> tuple[Guest, float]:
    guest = Guest(argv, log)
    guest.wait_for(READY, BOOT_TIMEOUT)
    seconds = guest.elapsed()
    # the shell comes up right after the ready line; wait for its prompt before typing
    guest.wait_for(r"RESCUE [^\n]*# ", 30)
    return guest, seconds


def test_bios_cdrom_boots_to_a_working_rescue_shell(rescue_image: RescueImage, tmp_path: Path) -> None:
    guest, seconds = _boot(qemu(*cdrom(rescue_image.iso)), tmp_path / "console.log")
    try:
        print(f"\nSeaBIOS CD-ROM: power-on to '{READY}' in {seconds:.1f} s")
        status, out = guest.shell("rear --version")
        assert status == 0 and "rearbuild" in out, out
        # real tools run: their libraries are all in the image
        checks = {
            "lvm version": "LVM version",
            "mdadm --version 2>&1": "mdadm - v",
            "sfdisk --version": "sfdisk from util-linux",
            "mkfs.xfs -V": "mkfs.xfs version",
            "python3 -c 'import sys; print(6 * 7, sys.version_info[0])'": "42 3",
        }
        for command, expected in checks.items():
            status, out = guest.shell(command)
            assert status == 0 and expected in out, f"{command}: status {status}\n{out}"
        # every dynamic program of the image resolves its libraries with the image's own loader
        status, out = guest.shell(
            'for f in /usr/bin/* /usr/sbin/*; do [ -f "$f" ] || continue; '
            '/lib64/ld-linux-x86-64.so.2 --list "$f" 2>/dev/null | grep -q \'not found\' && echo "MISSING $f"; '
            "done; echo checked-all",
            timeout=300,
        )
        assert "checked-all" in out and "MISSING" not in out, out
        status, out = guest.shell("cat /proc/cmdline; hostname; ls /lib/modules/*/modules.dep")
        assert status == 0 and "console=ttyS0,115200" in out
    finally:
        guest.close()


def test_uefi_cdrom_boots_to_a_working_rescue_shell(rescue_image: RescueImage, tmp_path: Path) -> None:
    guest, seconds = _boot(qemu(*ovmf(tmp_path), *cdrom(rescue_image.iso)), tmp_path / "console.log")
    try:
        print(f"\nOVMF CD-ROM: power-on to '{READY}' in {seconds:.1f} s")
        status, out = guest.shell("rear --version && ls /sys/firmware/efi >/dev/null && echo uefi-yes")
        assert status == 0 and "rearbuild" in out and "uefi-yes" in out, out
    finally:
        guest.close()
