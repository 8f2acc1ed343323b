"""Build the rescue ISO and its EFI boot image with the real tools, and check them with independent ones
(xorriso, isoinfo, fsck.fat, mtools)."""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import struct
import sys
import time
from pathlib import Path

import pytest

from rearbuild.output.bootloader import EfiLoader, find_isolinux, find_signed_shim
from rearbuild.output.bootmenu import IsoDefault, Templates
from rearbuild.output.efi import write_fat_image
from rearbuild.output.pinned import derive_u32
from rearbuild.output.rescue_iso import build_rescue_iso
from rearbuild.paths import default_share_dir
from rearbuild.run import run

pytestmark = pytest.mark.slow

EPOCH = 1_700_000_000
SEED = "integration"
REPO = Path(__file__).resolve().parents[2]


def _need(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists():
            pytest.skip(f"{tool} is not installed")


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    kernel = tmp_path / "in" / "vmlinuz"
    kernel.parent.mkdir()
    kernels = sorted(glob.glob("/boot/vmlinuz-*"))
    kernel.write_bytes(Path(kernels[-1]).read_bytes() if kernels else os.urandom(3 << 20))
    initrd = tmp_path / "in" / "initrd"
    initrd.write_bytes(hashlib.sha256(b"initrd").digest() * 40000)
    return kernel, initrd


def _build(out: Path, kernel: Path, initrd: Path, loader: EfiLoader = EfiLoader.STANDALONE_GRUB) -> Path:
    build_rescue_iso(
        out,
        templates=Templates(default_share_dir() / "images" / "iso"),
        kernel=kernel,
        initrd=initrd,
        epoch=EPOCH,
        seed=SEED,
        cmdline=("console=tty0", "console=ttyS0,115200"),
        iso_default=IsoDefault.MANUAL,
        timeout_ds=10,
        efi_loader=loader,
        extra_files={"/rear/README-with-Long_Name.txt": b"hello\n"},
    )
    return out


def test_iso_has_bios_and_uefi_boot_entries(tmp_path: Path, inputs: tuple[Path, Path]) -> None:
    _need("xorriso")
    iso = _build(tmp_path / "rescue.iso", *inputs)
    report = run(["xorriso", "-indev", iso, "-report_el_torito", "plain"]).out
    # "El Torito boot img :   N  Pltf  B   Emul  Ld_seg  Hdpt  Ldsiz  LBA"
    entries = [line.split(":", 1)[1].split() for line in report.splitlines() if line.startswith("El Torito boot img")]
    platforms = {fields[1]: fields for fields in entries}
    assert set(platforms) == {"BIOS", "UEFI"}
    assert all(fields[2] == "y" and fields[3] == "none" for fields in entries)  # bootable, no emulation
    assert platforms["BIOS"][6] == "4"  # boot load size in 512-byte sectors
    assert "/isolinux/isolinux.bin" in report and "/boot/efiboot.img" in report
    assert "boot-info-table" in report


def test_iso_volume_id_rock_ridge_joliet_and_real_names(tmp_path: Path, inputs: tuple[Path, Path]) -> None:
    _need("isoinfo")
    iso = _build(tmp_path / "rescue.iso", *inputs)
    info = run(["isoinfo", "-d", "-i", iso]).out
    assert "Volume id: RELAXRECOVER" in info
    assert "Rock Ridge signatures" in info
    assert "Joliet" in info
    expected = {
        "/isolinux/isolinux.bin",
        "/isolinux/ldlinux.c32",
        "/isolinux/menu.c32",
        "/isolinux/chain.c32",
        "/isolinux/isolinux.cfg",
        "/isolinux/kernel",
        "/isolinux/initrd.cgz",
        "/boot/efiboot.img",
        "/boot/grub/grub.cfg",
        "/.disk/info",
        "/rear/README-with-Long_Name.txt",
    }
    for flag in ("-R", "-J"):
        listed = set(run(["isoinfo", flag, "-f", "-i", iso]).out.split())
        assert expected <= listed, f"isoinfo {flag}: missing {expected - listed}"
    cfg = run(["isoinfo", "-R", "-x", "/isolinux/isolinux.cfg", "-i", iso]).out
    assert cfg.startswith("serial 0 115200")
    assert "default rescue" in cfg


def test_iso_is_hybrid_with_the_seeded_mbr_id(tmp_path: Path, inputs: tuple[Path, Path]) -> None:
    iso = _build(tmp_path / "rescue.iso", *inputs)
    with iso.open("rb") as fp:
        head = fp.read(1024)
    # MBR (UEFI 2.x §5.2.1): unique disk signature at 440 (4 bytes LE), boot signature 0x55 0xAA at 510;
    # GPT header (UEFI §5.3.2) at LBA 1 starts with "EFI PART".
    (disk_id,) = struct.unpack_from("<I", head, 440)
    assert disk_id == derive_u32(SEED, "isohybrid-mbr-id")
    assert head[510:512] == b"\x55\xaa"
    assert head[512:520] == b"EFI PART"


_REBUILD = """
import os, sys, time
from pathlib import Path
os.umask(0o077)
time.tzset()
from rearbuild.output.bootloader import EfiLoader
sys.path.insert(0, {tests!r})
from integration.test_iso_build import _build
_build(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), EfiLoader(sys.argv[4]))
"""


@pytest.mark.parametrize("loader", list(EfiLoader))
def test_iso_is_reproducible_across_timezone_umask_cwd_and_time(
    tmp_path: Path, inputs: tuple[Path, Path], loader: EfiLoader
) -> None:
    if loader is EfiLoader.SIGNED_SHIM and find_signed_shim() is None:
        pytest.skip("apt-get install shim-signed grub-efi-amd64-signed")
    kernel, initrd = inputs
    first = _build(tmp_path / "a" / "rescue.iso", kernel, initrd, loader)
    # The same inputs from another place, with other mtimes, a second later, in another process with
    # another timezone, umask, working directory and TMPDIR.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    kernel2, initrd2 = elsewhere / "k", elsewhere / "i"
    shutil.copyfile(kernel, kernel2)
    shutil.copyfile(initrd, initrd2)
    os.utime(kernel2, (EPOCH + 12345, EPOCH + 12345))
    time.sleep(1.1)
    second = tmp_path / "b" / "rescue.iso"
    env = dict(os.environ, TZ="Asia/Tokyo", TMPDIR=str(elsewhere), PYTHONPATH=str(REPO))
    script = _REBUILD.format(tests=str(REPO / "tests"))
    run([sys.executable, "-c", script, second, kernel2, initrd2, loader.value], env=env, cwd=elsewhere)
    assert first.read_bytes() == second.read_bytes()
    assert second.stat().st_mode & 0o777 == 0o644  # readable by all despite the umask


def test_efi_image_passes_fsck_and_holds_the_loader(tmp_path: Path) -> None:
    _need("fsck.fat", "mdir", "mtype")
    payload = tmp_path / "BOOTX64.EFI"
    payload.write_bytes(os.urandom(300_000))
    image = write_fat_image(
        tmp_path / "efiboot.img",
        {"EFI/BOOT/BOOTX64.EFI": payload, "EFI/BOOT/grub.cfg": b"configfile /boot/grub/grub.cfg\n"},
        epoch=EPOCH,
        volume_id=0x52454152,
    )
    fsck = run(["fsck.fat", "-n", image.path])  # exits non-zero (run() raises) on any inconsistency
    assert "5 files" in fsck.out  # as fsck.fat counts them, directories included
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1", TZ="UTC")
    listing = run(["mdir", "-i", image.path, "::/EFI/BOOT"], env=env).out
    assert "BOOTX64  EFI" in listing or "BOOTX64.EFI" in listing
    assert "2023-11-14" in listing  # the epoch's date, not today's
    assert "Serial Number is 5245-4152" in listing
    copied = run(["mtype", "-i", image.path, "::/EFI/BOOT/BOOTX64.EFI"], env=env).stdout
    assert copied == payload.read_bytes()
    assert image.size < 2 * 1024 * 1024


def test_efi_image_is_reproducible(tmp_path: Path) -> None:
    payload = tmp_path / "loader.efi"
    payload.write_bytes(os.urandom(100_000))
    files: dict[str, Path | bytes] = {"EFI/BOOT/BOOTX64.EFI": payload, "EFI/BOOT/grub.cfg": b"x\n"}
    first = write_fat_image(tmp_path / "1" / "efiboot.img", files, epoch=EPOCH, volume_id=1)
    time.sleep(1.1)
    os.utime(payload, (EPOCH + 99, EPOCH + 99))
    second = write_fat_image(tmp_path / "2" / "efiboot.img", files, epoch=EPOCH, volume_id=1)
    assert first.sha256 == second.sha256
    third = write_fat_image(tmp_path / "3" / "efiboot.img", files, epoch=EPOCH + 86400, volume_id=1)
    assert third.sha256 != first.sha256  # the epoch really is what dates the entries


def test_signed_shim_iso_carries_what_debians_signed_grub_needs(tmp_path: Path, inputs: tuple[Path, Path]) -> None:
    _need("isoinfo", "mdir")
    if find_signed_shim() is None:
        pytest.skip("apt-get install shim-signed grub-efi-amd64-signed")
    iso = _build(tmp_path / "rescue.iso", *inputs, EfiLoader.SIGNED_SHIM)
    listed = set(run(["isoinfo", "-R", "-f", "-i", iso]).out.split())
    assert {"/.disk/info", "/boot/grub/grub.cfg"} <= listed
    image = tmp_path / "efiboot.img"
    with image.open("wb") as fp:
        run(["isoinfo", "-R", "-x", "/boot/efiboot.img", "-i", iso], stdout=fp)
    listing = run(["mdir", "-b", "-i", image, "::/EFI/BOOT"], env=dict(os.environ, MTOOLS_SKIP_CHECK="1")).out
    names = {Path(line).name.upper() for line in listing.split()}
    assert {"BOOTX64.EFI", "GRUBX64.EFI"} <= names


def test_isohybrid_backup_gpt_never_overwrites_the_last_file(tmp_path: Path) -> None:
    """pycdlib puts the secondary GPT at the end of its 1 MiB padding: an image whose data ends just before a
    1 MiB boundary lost its last file (grub.cfg) to it. Every file must read back intact, whatever the size."""
    import pycdlib

    from rearbuild.output.iso import IsoBoot, write_iso

    isolinux = find_isolinux()
    efi = write_fat_image(tmp_path / "efi.img", {"EFI/BOOT/BOOTX64.EFI": b"x" * 4096}, epoch=0, volume_id=1)

    def build(filler: int) -> Path:
        out = tmp_path / f"t{filler}.iso"
        files = {
            "/isolinux/isolinux.bin": isolinux.isolinux_bin,
            "/boot/efiboot.img": efi.path,
            "/filler.bin": b"\1" * filler,
            "/zz/last/grub.cfg": b"menuentry\n" * 50,
        }
        write_iso(out, files, epoch=0, seed="gpt", boot=IsoBoot(efi="/boot/efiboot.img"))
        return out

    first = build(2048)
    # grow the filler so that the data ends 4 KiB (less than the GPT's 16.5 KiB) before a 1 MiB boundary
    used = first.stat().st_size
    iso = pycdlib.PyCdlib()
    iso.open(str(first))
    data_end = iso.pvd.space_size * 2048
    iso.close()
    filler = 2048 + ((1 << 20) - data_end % (1 << 20)) - 4096
    out = build(filler)
    assert out.stat().st_size >= used
    grub = run(["isoinfo", "-R", "-x", "/zz/last/grub.cfg", "-i", str(out)]).stdout
    assert grub == b"menuentry\n" * 50
