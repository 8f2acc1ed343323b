"""A dead machine comes back (issue: recovery for real), proven end to end in QEMU with the project's own pieces.

Scenario A: a source system is made in a rescue VM on a blank disk (GPT with BIOS boot partition and ESP, ext4
/boot, LVM with ext4 /, xfs /home and swap; files with owners, modes, xattrs, ACLs, hardlinks, symlinks, sparse
files; the host's kernel, a tiny initramfs and GRUB), its layout saved and backed up with `rear savelayout` and
`rear mkbackuponly` to a REAR-000 disk. A rescue ISO built on the host from that layout recovers it unattended onto
a blank disk; then the recovered disk is checked from outside (partition table), in a verification boot (files,
UUIDs, labels) and by booting it by itself through the GRUB that finalize installed.

Scenario A with UEFI and Secure Boot: the same source made under OVMF with Secure Boot on, booting through Debian's
signed shim and GRUB; recovered by the Secure Boot rescue ISO; the recovered disk boots alone with Secure Boot on.

Scenario E: a corrupted backup, a corrupted layout file and a too-small disk each stop the recovery with a clear
message, and the target disk stays bit for bit untouched.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from rearbuild.facts import short_hostname
from rearbuild.recover.bootloader import SIGNED_CHAIN_FILES
from tests.vm.conftest import SIGNED_SHIM, RescueImage
from tests.vm.qemu import Guest, cdrom, ovmf, qemu

pytestmark = [pytest.mark.slow, pytest.mark.vm]

HERE = Path(__file__).parent
DISK_SIZE = 2 << 30
MARKER = "SOURCE-SYSTEM-BOOTED"
PROMPT = r"RESCUE [^\n]*# "
SB_BOOT_TIMEOUT = 400  # OVMF with Secure Boot needs SMM, slow under TCG (vm-testing-notes.md: ~37 s, tiny initrd)


def _kernel() -> tuple[Path, str]:
    kernels = sorted(glob.glob("/lib/modules/*/modules.dep"))
    if not kernels:
        pytest.skip("apt-get install linux-image-amd64")
    version = Path(kernels[-1]).parent.name
    return Path(f"/boot/vmlinuz-{version}"), version


def _tiny_initramfs(out: Path, version: str) -> None:
    """busybox, an init printing the marker, and the storage modules a real initramfs of this system has (so the
    recovery's initramfs check finds what this hardware needs and leaves it alone)."""
    root = out.parent / "initramfs-root"
    (root / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", root / "bin/busybox")
    (root / "bin/sh").symlink_to("busybox")
    (root / "init").write_text(f"#!/bin/sh\n/bin/busybox echo {MARKER}\n/bin/busybox poweroff -f\n")
    (root / "init").chmod(0o755)
    modules = Path("/lib/modules") / version
    for name in ("virtio_blk", "virtio_pci", "dm-mod", "ext4", "jbd2", "mbcache", "xfs"):
        for found in modules.rglob(f"{name}.ko*"):
            target = root / "lib/modules" / version / found.relative_to(modules)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(found, target)
    names = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    with out.open("wb") as f:
        subprocess.run(
            ["cpio", "--quiet", "-o", "-H", "newc", "-R", "0:0"],
            input="\n".join(names).encode(),
            stdout=f,
            cwd=root,
            check=True,
        )


def _ext4_image(path: Path, size_mb: int, label: str, content: Path | None = None) -> None:
    subprocess.run(["truncate", "-s", f"{size_mb}M", str(path)], check=True)
    argv = ["mkfs.ext4", "-q", "-F", "-L", label, *(["-d", str(content)] if content else []), str(path)]
    subprocess.run(argv, check=True)


def _blank(path: Path, size: int = DISK_SIZE) -> Path:
    with path.open("wb") as f:
        f.truncate(size)
    return path


def _virtio(*disks: Path) -> list[str]:
    return [a for d in disks for a in ("-drive", f"file={d},if=virtio,format=raw")]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _listing(console: str) -> dict[str, object]:
    found = re.findall(r"LISTING-BEGIN(.*?)LISTING-END", console.replace("\n", ""))
    assert found, "no file listing on the console"
    return json.loads(found[-1])


def _blkid(console: str) -> dict[str, tuple[str, str]]:
    return {m[0]: (m[1], m[2]) for m in re.findall(r"^BLKID (\S+) (\S*) ?(\S*)$", console, re.M)}


@dataclass
class Source:
    disk: Path
    backup: Path
    payload: Path
    layout: str
    listing: dict[str, object]
    blkid: dict[str, tuple[str, str]]
    seconds: float


def _make_source(iso: Path, work: Path, firmware: tuple[str, ...] = (), *, secure_boot: bool = False) -> Source:
    """Boot the rescue ISO (with `firmware`'s QEMU arguments) on a blank disk and run provision.sh there: bios, or
    uefi-sb (Debian's signed shim and GRUB with the x86_64-efi modules in the payload, installed on the ESP)."""
    kernel, version = _kernel()
    payload_dir = work / "payload"
    payload_dir.mkdir()
    shutil.copy(kernel, payload_dir / "vmlinuz")
    _tiny_initramfs(payload_dir / "initrd.img", version)
    (payload_dir / "kver").write_text(version)
    if not Path("/usr/lib/grub/i386-pc/modinfo.sh").is_file():
        pytest.skip("apt-get install grub-pc-bin")
    shutil.copytree("/usr/lib/grub/i386-pc", payload_dir / "grub-i386-pc")
    shutil.copy("/usr/sbin/grub-install", payload_dir / "grub-install")
    if secure_boot:
        # Debian's grub-efi-amd64-bin, grub-efi-amd64-signed and shim-signed (ci/packages.txt): a missing one fails
        shutil.copytree("/usr/lib/grub/x86_64-efi", payload_dir / "grub-x86_64-efi")
        shutil.copy(Path("/", SIGNED_CHAIN_FILES[1]), payload_dir / "grubx64.efi.signed")
        shutil.copytree("/usr/lib/shim", payload_dir / "shim")
    for name in ("provision.sh", "make_files.py", "listing.py"):
        shutil.copy(HERE / name, payload_dir / name)
    payload = work / "payload.img"
    _ext4_image(payload, 128, "PAYLOAD", payload_dir)
    backup = work / "backup.img"
    _ext4_image(backup, 1024, "REAR-000")
    disk = _blank(work / "source.img")
    argv = qemu(*firmware, *cdrom(iso), *_virtio(disk, backup, payload), memory=1536)
    guest = Guest(argv, work / "console.log")
    started = time.monotonic()
    variant = "uefi-sb" if secure_boot else "bios"
    try:
        guest.wait_for(PROMPT, SB_BOOT_TIMEOUT if secure_boot else 180)
        status, out = guest.shell(
            f"mkdir -p /payload && mount -o ro /dev/vdc /payload && bash /payload/provision.sh {variant}", timeout=900
        )
        assert status == 0 and "PROVISION: done" in out, out[-4000:]
    finally:
        guest.close()
    console = guest.console
    with_mount = work / "backup-mnt"
    with_mount.mkdir()
    subprocess.run(["mount", "-o", "loop,ro", str(backup), str(with_mount)], check=True)
    try:
        layout = (with_mount / "disklayout.conf").read_text()
    finally:
        subprocess.run(["umount", str(with_mount)], check=True)
    return Source(disk, backup, payload, layout, _listing(console), _blkid(console), time.monotonic() - started)


@pytest.fixture(scope="module")
def source(rescue_image: RescueImage, tmp_path_factory: pytest.TempPathFactory) -> Source:
    return _make_source(rescue_image.iso, tmp_path_factory.mktemp("source"))


def _recovery_iso(work: Path, layout: str, extra_conf: str = "") -> Path:
    etc = work / "etc"
    etc.mkdir(parents=True)
    (etc / "local.conf").write_text(
        "BACKUP=NETFS\nBACKUP_URL=usb:///dev/disk/by-label/REAR-000\n"
        "ISO_DEFAULT=automatic\nISO_RECOVER_MODE=unattended\nISO_SYSLINUX_TIMEOUT=10\nUNATTENDED_FINISH=poweroff\n"
        f"OUTPUT_URL=file://{work}/out\n{extra_conf}"
    )
    # A layout in the config dir replaces the saved one: how a layout saved on another machine is recovered.
    (etc / "disklayout.conf").write_text(layout)
    argv = [sys.executable, "-m", "rearbuild", "-c", str(etc), "--var-dir", str(work / "var"),
            "--log-dir", str(work / "log"), "--tmpdir", str(work / "tmp"), "image"]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    host = short_hostname()
    return work / "out" / host / f"rear-{host}.iso"


def _recover(
    iso: Path, target: Path, backup: Path, log: Path, timeout: float = 1200, firmware: tuple[str, ...] = ()
) -> str:
    """Boot the recovery ISO unattended; return the console when the guest has powered off or given up."""
    guest = Guest(qemu(*firmware, *cdrom(iso), *_virtio(target, backup), memory=1536), log)
    try:
        guest.wait_for(r"unattended recovery finished|recovery finished with status", timeout)
        deadline = time.monotonic() + 60
        while guest.proc.poll() is None and time.monotonic() < deadline and "status" not in guest.console[-300:]:
            time.sleep(0.5)
        return guest.console
    finally:
        guest.close()


@pytest.fixture(scope="module")
def recovery_iso(source: Source, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _recovery_iso(tmp_path_factory.mktemp("recovery-iso"), source.layout)


@pytest.fixture(scope="module")
def recovered(source: Source, recovery_iso: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, float]:
    work = tmp_path_factory.mktemp("recover")
    iso = recovery_iso
    target = _blank(work / "target.img")
    started = time.monotonic()
    console = _recover(iso, target, source.backup, work / "console.log")
    seconds = time.monotonic() - started
    assert "unattended recovery finished" in console, console[-5000:]
    return target, console, seconds


def _sfdisk(image: Path) -> dict[str, object]:
    table = json.loads(subprocess.run(["sfdisk", "-J", str(image)], capture_output=True, text=True, check=True).stdout)[
        "partitiontable"
    ]
    for part in table["partitions"]:
        part.pop("node")
    table.pop("device")
    return dict(table)


def test_a_partition_table_is_identical(source: Source, recovered: tuple[Path, str, float]) -> None:
    target, _, seconds = recovered
    print(f"\nscenario A: source made and backed up in {source.seconds:.0f} s, recovered in {seconds:.0f} s")
    original, restored = _sfdisk(source.disk), _sfdisk(target)
    assert restored == original  # disk GUID, first LBA, every start, size, type, PARTUUID and name


def test_a_files_and_identities_are_identical(
    rescue_image: RescueImage, source: Source, recovered: tuple[Path, str, float], tmp_path: Path
) -> None:
    target, _, _ = recovered
    guest = Guest(
        qemu(*cdrom(rescue_image.iso), *_virtio(target, source.payload), memory=1536), tmp_path / "console.log"
    )
    try:
        guest.wait_for(PROMPT, 180)
        script = (
            "mkdir -p /payload /mnt/v && mount -o ro /dev/vdb /payload && lvm vgchange -q -ay system && "
            "mount -o ro /dev/system/root /mnt/v && mount -o ro /dev/vda3 /mnt/v/boot && "
            "mount -o ro /dev/vda2 /mnt/v/boot/efi && mount -o ro /dev/system/home /mnt/v/home && "
            "cd /mnt/v && python3 /payload/listing.py home/user srv/data boot/testdata boot/efi/testdata && "
            "for dev in /dev/vda2 /dev/vda3 /dev/system/root /dev/system/home /dev/system/swap; do "
            'echo "BLKID $dev $(blkid -s UUID -o value $dev) $(blkid -s LABEL -o value $dev)"; done'
        )
        status, out = guest.shell(script, timeout=300)
        assert status == 0, out[-3000:]
    finally:
        guest.close()
    listing = _listing(out)
    assert listing.keys() == source.listing.keys()
    for path, expected in source.listing.items():
        assert listing[path] == expected, f"{path} differs after recovery"
    assert _blkid(out) == source.blkid  # file-system UUIDs and labels, swap's too


def test_a_recovered_disk_boots_by_itself(recovered: tuple[Path, str, float], tmp_path: Path) -> None:
    target, _, _ = recovered
    guest = Guest(qemu(*_virtio(target), "-boot", "c"), tmp_path / "console.log")
    try:
        guest.wait_for(MARKER, 180)
        assert "GRUB of the recovered system" in guest.console
    finally:
        guest.close()


def _untouched_after(console_wanted: str, iso: Path, backup: Path, work: Path, size: int = DISK_SIZE) -> str:
    target = _blank(work / "target.img", size)
    before = _sha256(target)
    console = _recover(iso, target, backup, work / "console.log", timeout=600)
    assert re.search(console_wanted, console), console[-4000:]
    assert "recovery finished with status 1" in console
    assert _sha256(target) == before, "the target disk was written although the recovery stopped"
    return console


def test_e_corrupted_backup_stops_before_any_disk_is_written(
    source: Source, recovery_iso: Path, tmp_path: Path
) -> None:
    iso = recovery_iso
    corrupted = tmp_path / "backup-corrupted.img"
    shutil.copyfile(source.backup, corrupted)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-o", "loop", str(corrupted), str(mnt)], check=True)
    try:
        archive = next(mnt.rglob("backup.tar*[!6]"))  # not the .sha256 beside it
        with archive.open("r+b") as f:
            f.seek(archive.stat().st_size // 2)
            byte = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([byte[0] ^ 0xFF]))
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
    _untouched_after(r"sha256|checksum", iso, corrupted, tmp_path)


def test_e_corrupted_layout_stops_before_any_disk_is_written(source: Source, tmp_path: Path) -> None:
    broken = re.sub(r"^part (\S+) (\d+) .*$", r"part \1 \2", source.layout, count=1, flags=re.M)
    assert broken != source.layout
    iso = _recovery_iso(tmp_path / "build", broken)
    _untouched_after(r"disklayout\.conf:\d+: part record", iso, source.backup, tmp_path)


def test_e_too_small_disk_stops_in_verify(source: Source, recovery_iso: Path, tmp_path: Path) -> None:
    _untouched_after(r"too small|smaller than", recovery_iso, source.backup, tmp_path, size=1 << 30)


# Scenario A with UEFI and Secure Boot (issue 15: recovered machines keep Secure Boot). Three boots, all under OVMF
# with Secure Boot on and Microsoft's keys: the source is made as above but boots through Debian's signed shim and
# GRUB; the rescue ISO built with SECURE_BOOT_BOOTLOADER recovers it onto a blank disk, finalize writing the NVRAM
# entry into that guest's variable store; the recovered disk then boots alone with that store. Finalize's
# grub-install overwrites EFI/debian on the restored ESP and the entry: an unsigned GRUB there, or no entry (the
# ESP has no EFI/BOOT fallback), does not reach the kernel.


@pytest.fixture(scope="module")
def sb_recovered(
    secure_boot_image: RescueImage, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, str, float]:
    """(recovered disk, the variable store finalize wrote its boot entry to, recovery console, seconds)."""
    work = tmp_path_factory.mktemp("sb-source")
    started = time.monotonic()
    source = _make_source(secure_boot_image.iso, work, tuple(ovmf(work, secure=True)), secure_boot=True)
    made = (work / "console.log").read_text(errors="replace")
    assert "EFI/debian/shimx64.efi" in made, made[-3000:]  # the source's ESP holds shim, as installed
    iso = _recovery_iso(work / "recovery-iso", source.layout, f"SECURE_BOOT_BOOTLOADER={SIGNED_SHIM}\n")
    rec = tmp_path_factory.mktemp("sb-recover")
    target = _blank(rec / "target.img")
    firmware = tuple(ovmf(rec, secure=True))
    console = _recover(iso, target, source.backup, rec / "console.log", firmware=firmware)
    assert "unattended recovery finished" in console, console[-5000:]
    return target, rec / "OVMF_VARS.ms.fd", console, time.monotonic() - started


def test_a_secure_boot_recovered_disk_boots_with_secure_boot_on(
    sb_recovered: tuple[Path, Path, str, float], tmp_path: Path
) -> None:
    target, nvram, recovery_console, seconds = sb_recovered
    assert re.search(r"installing the boot loader: \S*grub-install --target=x86_64-efi .*--uefi-secure-boot",
                     recovery_console), recovery_console[-5000:]  # fmt: skip
    refusals = ("Access Denied", "Security Violation", "bad shim signature", "Verification failed")
    guest = Guest(qemu(*ovmf(tmp_path, secure=True, nvram=nvram), *_virtio(target)), tmp_path / "console.log")
    try:
        # a refusal ends the wait at once: the firmware then goes on to other entries and never reaches the marker
        guest.wait_for("|".join((MARKER, *refusals)), SB_BOOT_TIMEOUT)
        guest.wait_for(MARKER, 5)
    finally:
        guest.close()
    console = guest.console
    print(f"\nscenario A, UEFI + Secure Boot: made, recovered and booted in {seconds + guest.elapsed():.0f} s")
    # the firmware started the entry finalize wrote, pointing at shim; shim verified GRUB, GRUB the kernel
    assert re.search(r'BdsDxe: starting Boot\d+ "debian" .*\\EFI\\debian\\shimx64\.efi', console), console[-4000:]
    assert "GRUB of the recovered system" in console
    assert "secureboot: Secure boot enabled" in console  # the kernel's own view of the firmware
    for refusal in refusals:
        assert refusal not in console, console[-4000:]
