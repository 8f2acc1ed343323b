"""USB media for real, without QEMU: the USB image file and the RAWDISK image are byte-identical from two builds
and hold ReaR's layout; `format` then two runs onto a stick (a disk image file) keep both rescue systems in the
menu, a third prunes the oldest; `write` verifies what it wrote to a loop device and refuses the running system's
disk, a mounted device and a non-removable one unless forced. The boots are in tests/vm/usb/."""

from __future__ import annotations

import glob
import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rearbuild.errors import UserError
from rearbuild.output import stickwrite, usb
from rearbuild.output.bootmenu import IsoDefault, Templates
from rearbuild.output.rawdisk import build_rawdisk
from rearbuild.paths import default_share_dir
from rearbuild.run import run

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.geteuid() != 0, reason="loop devices and mount need root")]
MIB = usb.MIB
MENU = usb.MenuSettings(Templates(default_share_dir() / "images" / "usb"), timeout_ds=10, default=IsoDefault.MANUAL)


def _cli(tmp: Path, *args: str, conf: str = "", stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    etc = tmp / "etc"
    etc.mkdir(exist_ok=True)
    (etc / "local.conf").write_text(conf)
    argv = [sys.executable, "-m", "rearbuild", "-c", str(etc), "--var-dir", str(tmp / "var"), "--log-dir",
            str(tmp / "log"), "--tmpdir", str(tmp / "tmp"), *args]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, input=stdin or "")


@pytest.fixture(scope="module")
def payload(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    kernel = Path(sorted(glob.glob("/boot/vmlinuz-*"))[-1])
    initrd = tmp_path_factory.mktemp("payload") / "initrd"
    initrd.write_bytes(hashlib.sha256(b"initrd").digest() * 4096)
    return kernel, initrd


def _sparse(path: Path, size: int) -> None:
    with path.open("ab") as fp:
        fp.truncate(size)


def _head(path: Path) -> bytes:
    with path.open("rb") as fp:
        return fp.read(4096)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _ls(image: Path, offset: int, directory: str) -> str:
    return run(["debugfs", "-R", f"ls -p {directory}", f"{image}?offset={offset}"]).out


def test_usb_image_and_rawdisk_are_byte_identical(tmp_path: Path, payload: tuple[Path, Path]) -> None:
    kernel, initrd = payload
    system = usb.RescueSystem("alpha", "20240101.0000")
    common = dict(kernel=kernel, initrd=initrd, cmdline=["console=ttyS0,115200"], menu=MENU,
                  loaders=usb.BootLoaders(), epoch=1_700_000_000, seed="alpha:1")  # fmt: skip
    images = [usb.build_usb_image(tmp_path / f"usb{n}.img", system, spec=usb.UsbImageSpec(esp_bytes=32 * MIB),
                                  **common) for n in (1, 2)]  # type: ignore[arg-type]  # fmt: skip
    assert _sha(images[0]) == _sha(images[1])
    table = run(["sfdisk", "-d", images[0]]).out
    assert 'name="REAR-EFI"' in table and 'name="REAR-000"' in table and "21686148-6449-6E6F" in table
    data = usb.open_medium(images[0], "REAR-000").data
    assert "kernel" in _ls(images[0], data.start, "/rear/alpha/20240101.0000")
    assert images[0].read_bytes()[510:512] == b"\x55\xaa" and b"GRUB" in images[0].read_bytes()[:512]
    raws = [build_rawdisk(tmp_path / f"raw{n}.raw", system, partition_name="Rescue System", fat_label="RESCUE SYS",
                          **common) for n in (1, 2)]  # type: ignore[arg-type]  # fmt: skip
    assert _sha(raws[0]) == _sha(raws[1]) and _sha(raws[0]) != _sha(images[0])
    assert 'name="Rescue System"' in run(["sfdisk", "-d", raws[0]]).out


def test_format_then_runs_keep_the_newest(tmp_path: Path, payload: tuple[Path, Path]) -> None:
    kernel, initrd = payload
    stick = tmp_path / "stick.img"
    stick.write_bytes(b"old data" * 1000)
    _sparse(stick, 200 * MIB)
    result = _cli(tmp_path, "format", "--", "--yes", str(stick), conf="OUTPUT=USB\nUSB_UEFI_PART_SIZE=16\n")
    assert result.returncode == 0, result.stderr
    medium = usb.open_medium(stick, "REAR-000")
    assert medium.esp is not None and medium.bios_boot is not None
    for n in (1, 2, 3):  # three runs in the same minute with USB_RETAIN_BACKUP_NR=2
        kept = usb.update_medium(medium, usb.RescueSystem("alpha", "20260101.1000"), kernel=kernel, initrd=initrd,
                                 cmdline=[f"run={n}"], menu=MENU, loaders=usb.BootLoaders(), keep=2,
                                 epoch=1_700_000_000, workdir=tmp_path / f"w{n}")  # fmt: skip
    assert [s.name for s in kept] == ["20260101.1000.3", "20260101.1000.2"]
    menu = run(["debugfs", "-R", "cat /boot/grub/grub.cfg", f"{stick}?offset={medium.data.start}"]).out
    assert "run=3" in menu and "run=2" in menu and "run=1" not in menu
    esp = run(["mdir", "-b", "-/", "-i", f"{stick}@@{medium.esp.start}", "::/EFI/BOOT"],
              env={"MTOOLS_SKIP_CHECK": "1", "PATH": os.environ["PATH"]}).out  # fmt: skip
    assert "BOOTX64.EFI" in esp.upper()


def test_format_refuses_without_yes_and_unformatted_stick_is_named(tmp_path: Path) -> None:
    stick = tmp_path / "stick.img"
    _sparse(stick, 200 * MIB)
    result = _cli(tmp_path, "format", "--", str(stick), conf="OUTPUT=USB\n")
    assert result.returncode == 1 and "add --yes" in result.stderr and _head(stick) == bytes(4096)
    result = _cli(tmp_path, "format", "--", "--efi", "--bios", str(stick), conf="OUTPUT=USB\n")
    assert result.returncode == 1 and "exclude each other" in result.stderr
    with pytest.raises(Exception, match="rearbuild format"):
        usb.open_medium(stick, "REAR-000")


@pytest.fixture
def loop(tmp_path: Path) -> Iterator[Path]:
    backing = tmp_path / "loopdisk"
    _sparse(backing, 64 * MIB)
    device = Path(run(["losetup", "--find", "--show", backing]).out.strip())
    try:
        yield device
    finally:
        run(["umount", device], check=False)
        run(["losetup", "-d", device], check=False)


def test_write_verifies_and_needs_force_for_a_fixed_disk(tmp_path: Path, loop: Path) -> None:
    image = tmp_path / "image.iso"
    image.write_bytes(os.urandom(3 * MIB + 512))
    refused = _cli(tmp_path, "write", str(loop), str(image), "--yes")
    assert refused.returncode == 1 and "neither removable nor a USB disk" in refused.stderr
    assert _head(loop) == bytes(4096)  # nothing written
    result = _cli(tmp_path, "write", str(loop), str(image), "--yes", "--force")
    assert result.returncode == 0, result.stderr
    assert "verified" in result.stderr and _sha(image) in result.stderr
    with loop.open("rb") as fp:
        assert fp.read(image.stat().st_size) == image.read_bytes()
    too_big = tmp_path / "big.img"
    _sparse(too_big, 65 * MIB)
    result = _cli(tmp_path, "write", str(loop), str(too_big), "--yes", "--force")
    assert result.returncode == 1 and "does not fit" in result.stderr


def test_write_refuses_a_mounted_device(tmp_path: Path, loop: Path) -> None:
    run(["mkfs.ext4", "-q", loop])
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    run(["mount", loop, mnt])
    (mnt / "keep").write_text("precious")
    image = tmp_path / "image.iso"
    image.write_bytes(os.urandom(MIB))
    result = _cli(tmp_path, "write", str(loop), str(image), "--yes", "--force")
    assert result.returncode == 1 and f"is mounted on {mnt}" in result.stderr
    assert (mnt / "keep").read_text() == "precious"


def test_write_refuses_the_running_systems_disk(tmp_path: Path) -> None:
    source = run(["findmnt", "-n", "-o", "SOURCE", "/"]).out.strip()
    disks = [line.split() for line in run(["lsblk", "-s", "-n", "-r", "-o", "PATH,TYPE", source]).out.splitlines()]
    disk = next(path for path, kind in disks if kind == "disk")
    image = tmp_path / "image.iso"
    image.write_bytes(b"x" * 4096)
    result = _cli(tmp_path, "write", disk, str(image), "--yes", "--force")
    assert result.returncode == 1 and "holds the running system" in result.stderr


def test_ctrl_c_while_writing_says_what_state_the_device_is_in(tmp_path: Path, loop: Path) -> None:
    image = tmp_path / "image.iso"
    image.write_bytes(os.urandom(3 * stickwrite.CHUNK))

    class Interrupted(stickwrite.Progress):
        def update(self, done: int, *, final: bool = False) -> None:
            raise KeyboardInterrupt  # what Ctrl-C raises in the writing loop, after the first chunk

    with pytest.raises(UserError, match=rf"partly written \({stickwrite.CHUNK} of {3 * stickwrite.CHUNK} bytes\) "
                                        "and NOT bootable"):  # fmt: skip
        stickwrite.write_image(image, loop, progress=Interrupted(image.stat().st_size))
    with loop.open("rb") as fp:
        assert fp.read(stickwrite.CHUNK) == image.read_bytes()[: stickwrite.CHUNK]
