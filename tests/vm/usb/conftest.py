"""USB media for the boot tests, made once per module: a virtual stick (a disk image file) formatted with the real
`rearbuild format`, then two runs onto it -- the first the real `rearbuild image` with OUTPUT=USB and USB_DEVICE
(the one rescue image build of these tests), the second the same library call (rearbuild.output.usb.update_medium)
with that build's kernel and initrd, so the stick holds two rescue systems without a second build. From the same
kernel and initrd: the USB image file (OUTPUT=USB without a stick) and the rescue ISO that `write` puts on a loop
device."""

from __future__ import annotations

import datetime
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from rearbuild.facts import short_hostname
from rearbuild.output import usb
from rearbuild.output.bootloader import EfiLoader
from rearbuild.output.bootmenu import IsoDefault, Templates
from rearbuild.output.rawdisk import build_rawdisk
from rearbuild.output.rescue_iso import build_rescue_iso
from rearbuild.paths import default_share_dir
from rearbuild.run import run
from tests.vm.conftest import _build_image

MIB = usb.MIB
STICK_CONF = "OUTPUT=USB\nUSB_UEFI_PART_SIZE=32\nISO_DEFAULT=manual\nISO_SYSLINUX_TIMEOUT=10\n"
SECOND_RUN = "rearbuild.test=second-run"


@dataclass(frozen=True)
class UsbMedia:
    root: Path
    stick: Path
    systems: list[usb.RescueSystem]  # on the stick, newest first
    menu: str  # the stick's /boot/grub/grub.cfg
    image: Path  # the USB image file
    iso: Path  # the rescue ISO for `write`
    argv: list[str]  # rearbuild with this root's directories
    rawdisk: Path  # OUTPUT=RAWDISK's image of the same rescue system
    secure_image: Path  # the USB image file with Debian's signed shim and GRUB (Secure Boot)


@pytest.fixture(scope="module")
def usb_media(tmp_path_factory: pytest.TempPathFactory) -> UsbMedia:
    root = tmp_path_factory.mktemp("usb-media")
    stick = root / "stick.img"
    with stick.open("wb") as fp:
        fp.truncate(400 * MIB)
    (root / "etc").mkdir()
    (root / "etc" / "local.conf").write_text(STICK_CONF)
    argv = [sys.executable, "-m", "rearbuild", "-c", str(root / "etc"), "--var-dir", str(root / "var"),
            "--log-dir", str(root / "log"), "--tmpdir", str(root / "tmp")]  # fmt: skip
    formatted = subprocess.run([*argv, "format", "--", "--yes", str(stick)], capture_output=True, text=True,
                               timeout=300)  # fmt: skip
    assert formatted.returncode == 0, formatted.stderr
    _build_image(root, f"{STICK_CONF}USB_DEVICE={stick}\n")
    medium = usb.open_medium(stick, "REAR-000")
    first = usb.kept_systems_on(medium, root / "mnt")[0]
    kernel, initrd, cmdline = root / "kernel", root / "initrd", root / "cmdline"
    for name, out in (("kernel", kernel), ("initrd.cgz", initrd), ("cmdline", cmdline)):
        run(["debugfs", "-R", f"dump /{first.directory}/{name} {out}", f"{stick}?offset={medium.data.start}"])
    words = [*cmdline.read_text().split(), SECOND_RUN]
    # a longer timeout than the build's: the UEFI test picks the older entry with the arrow keys
    menu = usb.MenuSettings(Templates(default_share_dir() / "images" / "usb"), timeout_ds=50, default=IsoDefault.MANUAL)
    second = usb.RescueSystem(first.host, usb.run_name(datetime.datetime.now()))
    systems = usb.update_medium(medium, second, kernel=kernel, initrd=initrd, cmdline=words, menu=menu,
                                loaders=usb.BootLoaders(), keep=2, epoch=1_700_000_000, workdir=root / "w")  # fmt: skip
    grub_cfg = run(["debugfs", "-R", "cat /boot/grub/grub.cfg", f"{stick}?offset={medium.data.start}"]).out
    image = usb.build_usb_image(
        root / f"rear-{short_hostname()}.usb.img", usb.RescueSystem(first.host, "20240101.0000"), kernel=kernel,
        initrd=initrd, cmdline=cmdline.read_text().split(), menu=menu, loaders=usb.BootLoaders(),
        spec=usb.UsbImageSpec(esp_bytes=32 * MIB), epoch=1_700_000_000, seed="vm-usb",
    )  # fmt: skip
    iso = build_rescue_iso(
        root / "rescue.iso", templates=Templates(default_share_dir() / "images" / "iso"), kernel=kernel,
        initrd=initrd, epoch=1_700_000_000, seed="vm-usb", cmdline=cmdline.read_text().split(),
        iso_default=IsoDefault.MANUAL, timeout_ds=10, efi_loader=EfiLoader.STANDALONE_GRUB,
    )  # fmt: skip
    rawdisk = build_rawdisk(
        root / "rear-rawdisk.raw", usb.RescueSystem(first.host, "20240101.0000"), kernel=kernel, initrd=initrd,
        cmdline=cmdline.read_text().split(), menu=menu, loaders=usb.BootLoaders(), partition_name="Rescue System",
        fat_label="RESCUE SYS", epoch=1_700_000_000, seed="vm-rawdisk",
    )  # fmt: skip
    secure_image = usb.build_usb_image(
        root / "rear-secure.usb.img", usb.RescueSystem(first.host, "20240101.0000"), kernel=kernel, initrd=initrd,
        cmdline=cmdline.read_text().split(), menu=menu, loaders=usb.BootLoaders(efi=EfiLoader.SIGNED_SHIM),
        spec=usb.UsbImageSpec(esp_bytes=32 * MIB), epoch=1_700_000_000, seed="vm-usb-sb",
    )  # fmt: skip
    return UsbMedia(root, stick, systems, grub_cfg, image, iso.path, argv, rawdisk, secure_image)
