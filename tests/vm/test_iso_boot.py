"""Boot the rescue ISO in QEMU (TCG): SeaBIOS from CD-ROM, OVMF from CD-ROM, the isohybrid ISO as a
disk, and OVMF with Secure Boot through the signed shim. The guest's /init prints a marker and powers off;
the verdict is that marker on the serial console (vm-testing-notes.md)."""

from __future__ import annotations

import glob
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from rearbuild.output.bootloader import EfiLoader, find_signed_shim
from rearbuild.output.bootmenu import IsoDefault
from rearbuild.output.rescue_iso import build_rescue_iso
from rearbuild.run import run

pytestmark = [pytest.mark.slow, pytest.mark.vm]

MARKER = "ISO-BOOT-OK"
BOOT_TIMEOUT = 120.0
OVMF = Path("/usr/share/OVMF")
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
    """Run QEMU until `wanted` appears on the console or BOOT_TIMEOUT passes; return (seconds, console)."""
    started = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        seen: float | None = None
        try:
            while time.monotonic() - started < BOOT_TIMEOUT:
                if seen is None and wanted.encode() in log.read_bytes():
                    seen = time.monotonic() - started
                    if wanted != MARKER:
                        break
                if proc.poll() is not None:
                    break
                time.sleep(0.2)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    console = log.read_text(errors="replace")
    if seen is None and wanted in console:
        seen = time.monotonic() - started
    assert seen is not None, f"no {wanted} within {BOOT_TIMEOUT} s; console:\n{console[-3000:]}"
    return seen, console


def _qemu(*extra: str) -> list[str]:
    if shutil.which("qemu-system-x86_64") is None:
        pytest.skip("apt-get install qemu-system-x86")
    # TCG only: KVM is broken on this machine (vm-testing-notes.md); -nodefaults keeps the empty floppy out.
    return ["qemu-system-x86_64", "-accel", "tcg", "-m", "1024", "-nodefaults", "-display", "none",
            "-serial", "stdio", "-monitor", "none", "-no-reboot", *extra]  # fmt: skip


def _ovmf(tmp: Path, secure: bool) -> list[str]:
    suffix = ".ms" if secure else ""
    code, vars_ = OVMF / f"OVMF_CODE_4M{suffix}.fd", OVMF / f"OVMF_VARS_4M{suffix}.fd"
    if not code.is_file() or not vars_.is_file():
        pytest.skip("apt-get install ovmf")
    writable = tmp / f"vars{suffix}.fd"
    shutil.copyfile(vars_, writable)
    machine = ["-machine", "q35,smm=on", "-global", "driver=cfi.pflash01,property=secure,value=on"] if secure else [
        "-machine", "q35"]  # fmt: skip
    return [*machine,
            "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={code}",
            "-drive", f"if=pflash,format=raw,unit=1,file={writable}"]  # fmt: skip


def _cdrom(iso: Path) -> list[str]:
    return ["-drive", f"file={iso},media=cdrom,if=ide,readonly=on", "-boot", "d"]


def _report(name: str, seconds: float, console: str) -> None:
    print(f"\n{name}: {MARKER} after {seconds:.1f} s")
    assert f"{MARKER} entry=rescue" in console, "the default (rescue) entry did not boot on its own"
    assert "rearbuild.test=iso" in console, "the kernel did not get the menu's command line"


def test_bios_cdrom(tmp_path: Path, initrd: Path) -> None:
    iso = _build(tmp_path, initrd, EfiLoader.STANDALONE_GRUB)
    seconds, console = _boot(_qemu(*_cdrom(iso)), tmp_path / "console.log")
    _report("SeaBIOS CD-ROM", seconds, console)


def test_uefi_cdrom(tmp_path: Path, initrd: Path) -> None:
    iso = _build(tmp_path, initrd, EfiLoader.STANDALONE_GRUB)
    seconds, console = _boot(_qemu(*_ovmf(tmp_path, secure=False), *_cdrom(iso)), tmp_path / "console.log")
    _report("OVMF CD-ROM (standalone GRUB)", seconds, console)


def test_bios_isohybrid_disk(tmp_path: Path, initrd: Path) -> None:
    iso = _build(tmp_path, initrd, EfiLoader.STANDALONE_GRUB)
    disk = ["-drive", f"file={iso},format=raw,if=ide,snapshot=on", "-boot", "c"]
    seconds, console = _boot(_qemu(*disk), tmp_path / "console.log")
    _report("SeaBIOS isohybrid disk", seconds, console)


def test_uefi_isohybrid_disk(tmp_path: Path, initrd: Path) -> None:
    iso = _build(tmp_path, initrd, EfiLoader.STANDALONE_GRUB)
    disk = ["-drive", f"file={iso},format=raw,if=ide,snapshot=on"]
    seconds, console = _boot(_qemu(*_ovmf(tmp_path, secure=False), *disk), tmp_path / "console.log")
    _report("OVMF isohybrid disk", seconds, console)


def test_secure_boot_cdrom(tmp_path: Path, initrd: Path) -> None:
    if find_signed_shim() is None:
        pytest.skip("apt-get install shim-signed grub-efi-amd64-signed")
    iso = _build(tmp_path, initrd, EfiLoader.SIGNED_SHIM)
    argv = _qemu(*_ovmf(tmp_path, secure=True), *_cdrom(iso))
    seconds, console = _boot(argv, tmp_path / "console.log")
    _report("OVMF Secure Boot CD-ROM (signed shim)", seconds, console)


def test_secure_boot_refuses_unsigned_grub(tmp_path: Path, initrd: Path) -> None:
    """The counter-check of the test above: the firmware really enforces Secure Boot."""
    iso = _build(tmp_path, initrd, EfiLoader.STANDALONE_GRUB)
    argv = _qemu(*_ovmf(tmp_path, secure=True), *_cdrom(iso))
    _, console = _boot(argv, tmp_path / "console.log", wanted="Access Denied")
    assert MARKER not in console
