"""OUTPUT=USB: add rear/$HOSTNAME/<timestamp>/ to the formatted stick USB_DEVICE (or a usb:// URL's), prune beyond
USB_RETAIN_BACKUP_NR, rewrite menu and boot loaders; no stick: the image rear-$HOSTNAME.usb.img (output.usb)."""

from __future__ import annotations

import datetime
from pathlib import Path

from rearbuild.checksum import sha256_file
from rearbuild.context import Context
from rearbuild.log import notice
from rearbuild.output import usb
from rearbuild.output.bootmenu import IsoDefault, Templates
from rearbuild.output.rescue_iso import rescue_cmdline
from rearbuild.output.secureboot import efi_boot_for
from rearbuild.secureboot import SecureBootState
from rearbuild.state import required


def main(ctx: Context) -> None:
    manifest, initrd = required(ctx.state.manifest, "the manifest"), required(ctx.state.initrd, "the initrd").path
    kernel = ctx.state.bundle.kernel if ctx.state.bundle else Path(manifest.kernel_file)
    efi = efi_boot_for(ctx.tristate("USING_UEFI_BOOTLOADER"), ctx.text("SECURE_BOOT_BOOTLOADER"),
                       SecureBootState.parse(manifest.facts.get("SECURE_BOOT_STATE", "")), kernel)  # fmt: skip
    loaders = usb.BootLoaders(bios=True, efi=efi.loader if efi else None, chain=efi.chain if efi else None)
    menu = usb.MenuSettings(Templates(ctx.paths.share_dir / "images" / "usb"), ctx.number("ISO_SYSLINUX_TIMEOUT"),
                            IsoDefault.parse(ctx.text("ISO_DEFAULT")), ctx.text("ISO_RECOVER_MODE").strip() or None)
    cmdline = rescue_cmdline(ctx.items("KERNEL_CMDLINE"), ctx.cmdline.with_keys(ctx.items("COPY_KERNEL_PARAMETERS")))
    hostname, suffix = manifest.facts.get("HOSTNAME", ctx.text("HOSTNAME")), ctx.text("USB_SUFFIX")
    device = usb.configured_device(ctx.text("USB_DEVICE"), ctx.text("BACKUP_URL"), ctx.text("OUTPUT_URL"))
    if device is None:
        spec = usb.UsbImageSpec(ctx.number("USB_UEFI_PART_SIZE") * usb.MIB, ctx.text("USB_DEVICE_FILESYSTEM"),
                                ctx.text("USB_DEVICE_FILESYSTEM_LABEL"), ctx.items("USB_DEVICE_FILESYSTEM_PARAMS"))
        stamp = datetime.datetime.fromtimestamp(ctx.epoch, datetime.UTC)  # reproducible: the build's date
        out = Path(ctx.text("ISO_DIR")) / f"rear-{hostname}.usb.img"
        usb.build_usb_image(out, usb.RescueSystem(hostname, usb.run_name(stamp, suffix)), kernel=kernel,
                            initrd=initrd, cmdline=cmdline, menu=menu, loaders=loaders, spec=spec, epoch=ctx.epoch,
                            seed=f"{hostname}:{sha256_file(initrd)}")  # fmt: skip
        return ctx.state.result_files.append(out)
    medium = usb.open_medium(usb.whole_disk(device), ctx.text("USB_DEVICE_FILESYSTEM_LABEL"))
    system = usb.RescueSystem(hostname, usb.run_name(datetime.datetime.now(), suffix))
    kept = usb.update_medium(medium, system, kernel=kernel, initrd=initrd, cmdline=cmdline, menu=menu, loaders=loaders,
                             keep=None if suffix.strip() else ctx.number("USB_RETAIN_BACKUP_NR"), epoch=ctx.epoch,
                             workdir=ctx.tmp_dir, dated=not suffix.strip())  # fmt: skip
    notice("USB: %s now holds %s", medium.target, ", ".join(f"{s.host}/{s.name}" for s in kept))
