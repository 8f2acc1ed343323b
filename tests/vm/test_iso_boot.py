"""Boot the rescue ISO in QEMU (TCG): SeaBIOS from CD-ROM, OVMF from CD-ROM, the isohybrid ISO as a
disk, and OVMF with Secure Boot through the signed shim. The guest's /init prints a marker and powers off;
the verdict is that marker on the serial console (vm-testing-notes.md)."""

from __future__ import annotations

import glob
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from rearbuild.output.bootloader import EfiLoader, find_signed_shim
from rearbuild.output.bootmenu import IsoDefault, Templates
from rearbuild.output.rescue_iso import build_rescue_iso
from rearbuild.paths import default_share_dir
from rearbuild.run import run
from tests.vm.qemu import Guest, cdrom, ovmf, qemu

pytestmark = [pytest.mark.slow, pytest.mark.vm]

MARKER = "ISO-BOOT-OK"
BOOT_TIMEOUT = 120.0
BUSYBOX = Path("/bin/busybox")
# The menu entry has to start on its own: "manual" (the rescue entry) after one second.
CMDLINE = ("console=tty0", "console=ttyS0,115200", "panic=-1", "rearbuild.test=iso")

INIT = f"""#!/bin/sh
/bin/busybox mkdir -p /proc /dev
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs devtmpfs /dev
echo "cmdline: $(/bin/busybox cat /proc/cmdline)"
echo "{MARKER} entry=$(/bin/busybox grep -o auto_recover /proc/cmdline || echo rescue)"
/bin/busybox poweroff -f
"""


def _kernel() -> Path:
    kernels = sorted(glob.glob("/boot/vmlinuz-*"))
    if not kernels:
        pytest.skip("no kernel in /boot (apt-get install linux-image-amd64)")
    return Path(kernels[-1])


@pytest.fixture(scope="module")
def initrd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny busybox initrd whose /init prints the marker and powers off (newc cpio, GNU cpio)."""
    if not BUSYBOX.is_file() or shutil.which("cpio") is None:
        pytest.skip("needs busybox-static and cpio")
    root = tmp_path_factory.mktemp("initrd-root")
    (root / "bin").mkdir()
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    (root / "bin" / "sh").symlink_to("busybox")
    (root / "init").write_text(INIT)
    (root / "init").chmod(0o755)
    names = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    out = tmp_path_factory.mktemp("initrd") / "initrd.cpio"
    with out.open("wb") as fp:
        run(["cpio", "--quiet", "-o", "-H", "newc", "-R", "0:0"], input="\n".join(names) + "\n", stdout=fp, cwd=root)
    return out


def _build(tmp: Path, initrd: Path, loader: EfiLoader) -> Path:
    iso = tmp / f"rescue-{loader.value}.iso"
    build_rescue_iso(
        iso,
        templates=Templates(default_share_dir() / "images" / "iso"),
        kernel=_kernel(),
        initrd=initrd,
        epoch=1_700_000_000,
        seed="vm-test",
        cmdline=CMDLINE,
        iso_default=IsoDefault.MANUAL,
        timeout_ds=10,
        efi_loader=loader,
    )
    return iso


def _boot(argv: Sequence[str], log: Path, wanted: str = MARKER) -> tuple[float, str]:
    """Run QEMU until `wanted` (with the rest of its line) appears on the console; return (seconds, console)."""
    guest = Guest(argv, log)
    try:
        guest.wait_for(re.escape(wanted) + r".*\n", BOOT_TIMEOUT)
        return guest.elapsed(), guest.console
    finally:
        guest.close()


def _report(name: str, seconds: float, console: str) -> None:
    print(f"\n{name}: {MARKER} after {seconds:.1f} s")
    assert f"{MARKER} entry=rescue" in console, "the default (rescue) entry did not boot on its own"
    assert "rearbuild.test=iso" in console, "the kernel did not get the menu's command line"


def test_bios_cdrom(tmp_path: Path, initrd: Path) -> None:
    iso = _build(tmp_path, initrd, EfiLoader.STANDALONE_GRUB)
    seconds, console = _boot(qemu(*cdrom(iso)), tmp_path / "console.log")
    _report("SeaBIOS CD-ROM", seconds, console)


def test_uefi_cdrom(tmp_path: Path, initrd: Path) -> None:
    iso = _build(tmp_path, initrd, EfiLoader.STANDALONE_GRUB)
    seconds, console = _boot(qemu(*ovmf(tmp_path), *cdrom(iso)), tmp_path / "console.log")
    _report("OVMF CD-ROM (standalone GRUB)", seconds, console)


def test_bios_isohybrid_disk(tmp_path: Path, initrd: Path) -> None:
    iso = _build(tmp_path, initrd, EfiLoader.STANDALONE_GRUB)
    disk = ["-drive", f"file={iso},format=raw,if=ide,snapshot=on", "-boot", "c"]
    seconds, console = _boot(qemu(*disk), tmp_path / "console.log")
    _report("SeaBIOS isohybrid disk", seconds, console)


def test_uefi_isohybrid_disk(tmp_path: Path, initrd: Path) -> None:
    iso = _build(tmp_path, initrd, EfiLoader.STANDALONE_GRUB)
    disk = ["-drive", f"file={iso},format=raw,if=ide,snapshot=on"]
    seconds, console = _boot(qemu(*ovmf(tmp_path), *disk), tmp_path / "console.log")
    _report("OVMF isohybrid disk", seconds, console)


def test_secure_boot_cdrom(tmp_path: Path, initrd: Path) -> None:
    if find_signed_shim() is None:
        pytest.skip("apt-get install shim-signed grub-efi-amd64-signed")
    iso = _build(tmp_path, initrd, EfiLoader.SIGNED_SHIM)
    argv = qemu(*ovmf(tmp_path, secure=True), *cdrom(iso))
    seconds, console = _boot(argv, tmp_path / "console.log")
    _report("OVMF Secure Boot CD-ROM (signed shim)", seconds, console)


def test_secure_boot_refuses_unsigned_grub(tmp_path: Path, initrd: Path) -> None:
    """The counter-check of the test above: the firmware really enforces Secure Boot. The same ISO boots with
    Secure Boot off, so only the enforcement stops it."""
    iso = _build(tmp_path, initrd, EfiLoader.STANDALONE_GRUB)
    argv = qemu(*ovmf(tmp_path, secure=True), *cdrom(iso))
    _, console = _boot(argv, tmp_path / "console.log", wanted="Access Denied")
    assert MARKER not in console
    seconds, console = _boot(qemu(*ovmf(tmp_path), *cdrom(iso)), tmp_path / "console-sb-off.log")
    _report("the same ISO, OVMF without Secure Boot", seconds, console)


def test_secure_boot_refuses_unsigned_kernel(tmp_path: Path, initrd: Path) -> None:
    """Why rearbuild refuses an unsigned kernel at build time: behind the signed shim and GRUB, the kernel
    without its signature does not boot with Secure Boot on (GRUB asks shim to verify it), and boots with
    Secure Boot off."""
    import pefile

    from rearbuild.output.secureboot import CERTIFICATE_TABLE

    image = pefile.PE(str(_kernel()))
    table = image.OPTIONAL_HEADER.DATA_DIRECTORY[CERTIFICATE_TABLE]
    offset = table.VirtualAddress
    assert offset and table.Size, "the distribution's kernel is expected to be signed"
    table.VirtualAddress = table.Size = 0
    unsigned = tmp_path / "vmlinuz-unsigned"
    unsigned.write_bytes(bytes(image.write())[:offset])
    image.close()
    iso = tmp_path / "unsigned-kernel.iso"
    build_rescue_iso(
        iso,
        templates=Templates(default_share_dir() / "images" / "iso"),
        kernel=unsigned,
        initrd=initrd,
        epoch=1_700_000_000,
        seed="vm-test",
        cmdline=CMDLINE,
        iso_default=IsoDefault.MANUAL,
        timeout_ds=10,
        efi_loader=EfiLoader.SIGNED_SHIM,
    )
    refused = r"(bad shim signature|prohibited by secure boot policy|[Ii]nvalid signature|Access Denied)"
    guest = Guest(qemu(*ovmf(tmp_path, secure=True), *cdrom(iso)), tmp_path / "console.log")
    try:
        found = guest.wait_for(refused, BOOT_TIMEOUT)
        seconds = guest.elapsed()
        print(f"\nSecure Boot, signed shim+GRUB, unsigned kernel: refused ({found.group(0)!r}) after {seconds:.1f} s")
        assert MARKER not in guest.console
    finally:
        guest.close()
    seconds, console = _boot(qemu(*ovmf(tmp_path), *cdrom(iso)), tmp_path / "console-sb-off.log")
    _report("the same ISO, OVMF without Secure Boot", seconds, console)
