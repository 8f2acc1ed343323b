"""OUTPUT=RAWDISK: the bootable disk image $RAWDISK_IMAGE_NAME.raw (BIOS and UEFI), compressed with
RAWDISK_IMAGE_COMPRESSION_COMMAND, as a result file (rearbuild.output.rawdisk)."""

from __future__ import annotations

import datetime
from pathlib import Path

from rearbuild.checksum import sha256_file
from rearbuild.context import Context
from rearbuild.log import notice
from rearbuild.output import usb
from rearbuild.output.bootmenu import IsoDefault, Templates
from rearbuild.output.rawdisk import build_rawdisk, compress
from rearbuild.output.rescue_iso import rescue_cmdline
from rearbuild.output.secureboot import efi_boot_for
from rearbuild.secureboot import SecureBootState
from rearbuild.state import required


def main(ctx: Context) -> None:
    manifest, initrd = required(ctx.state.manifest, "the manifest"), required(ctx.state.initrd, "the initrd").path
    kernel = ctx.state.bundle.kernel if ctx.state.bundle else Path(manifest.kernel_file)
    host = SecureBootState.parse(manifest.facts.get("SECURE_BOOT_STATE", ""))
    efi = None if ctx.flag("RAWDISK_BOOT_EXCLUDE_GRUB2_EFI") else efi_boot_for(
        ctx.tristate("USING_UEFI_BOOTLOADER"), ctx.text("SECURE_BOOT_BOOTLOADER"), host, kernel)  # fmt: skip
    loaders = usb.BootLoaders(bios=not ctx.flag("RAWDISK_BOOT_EXCLUDE_SYSLINUX_LEGACY"),
                              efi=efi.loader if efi else None, chain=efi.chain if efi else None)  # fmt: skip
    menu = usb.MenuSettings(Templates(ctx.paths.share_dir / "images" / "usb"), ctx.number("ISO_SYSLINUX_TIMEOUT"),
                            IsoDefault.parse(ctx.text("ISO_DEFAULT")), ctx.text("ISO_RECOVER_MODE").strip() or None)
    hostname = manifest.facts.get("HOSTNAME", ctx.text("HOSTNAME"))
    stamp = datetime.datetime.fromtimestamp(ctx.epoch, datetime.UTC)
    out = Path(ctx.text("ISO_DIR")) / f"{ctx.text('RAWDISK_IMAGE_NAME')}.raw"
    build_rawdisk(out, usb.RescueSystem(hostname, usb.run_name(stamp)), kernel=kernel, initrd=initrd,
                  cmdline=rescue_cmdline(ctx.items("KERNEL_CMDLINE"),
                                         ctx.cmdline.with_keys(ctx.items("COPY_KERNEL_PARAMETERS"))),
                  menu=menu, loaders=loaders, partition_name=ctx.text("RAWDISK_GPT_PARTITION_NAME"),
                  fat_label=ctx.text("RAWDISK_FAT_VOLUME_LABEL"), epoch=ctx.epoch,
                  seed=f"{hostname}:{sha256_file(initrd)}")  # fmt: skip
    result = compress(out, ctx.text("RAWDISK_IMAGE_COMPRESSION_COMMAND"))
    notice("RAWDISK: %s (%.1f MiB)", result, result.stat().st_size / 2**20)
    ctx.state.result_files.append(result)
