"""The rescue ISO (pycdlib, no root, no mount): BIOS isolinux + UEFI GRUB, isohybrid, reproducible.
Written to $ISO_DIR/$ISO_PREFIX.iso as ReaR does; 950_copy_result_files publishes it to OUTPUT_URL."""

from __future__ import annotations

from pathlib import Path

from rearbuild.checksum import sha256_file
from rearbuild.context import Context
from rearbuild.log import notice
from rearbuild.output.bootmenu import IsoDefault, Templates
from rearbuild.output.rescue_iso import build_rescue_iso, check_file_sizes, extra_iso_files, kernel_cmdline
from rearbuild.output.secureboot import efi_boot_for
from rearbuild.secureboot import SecureBootState
from rearbuild.state import required


def main(ctx: Context) -> None:
    manifest = required(ctx.state.manifest, "the manifest")
    initrd = required(ctx.state.initrd, "the initrd")
    kernel = ctx.state.bundle.kernel if ctx.state.bundle else Path(manifest.kernel_file)
    check_file_sizes({"initrd": initrd.path, "kernel": kernel}, ctx.number("ISO_FILE_SIZE_LIMIT"))
    host = SecureBootState.parse(manifest.facts.get("SECURE_BOOT_STATE", ""))  # collected: bundles build elsewhere
    efi = efi_boot_for(ctx.tristate("USING_UEFI_BOOTLOADER"), ctx.text("SECURE_BOOT_BOOTLOADER"), host, kernel)
    image = build_rescue_iso(
        Path(ctx.text("ISO_DIR")) / f"{ctx.text('ISO_PREFIX')}.iso",
        templates=Templates(ctx.paths.share_dir / "images" / "iso"),
        kernel=kernel,
        initrd=initrd.path,
        epoch=ctx.epoch,
        seed=f"{manifest.facts.get('HOSTNAME', '')}:{sha256_file(initrd.path)}",
        cmdline=kernel_cmdline(ctx.settings, ctx.cmdline),
        iso_default=IsoDefault.parse(ctx.text("ISO_DEFAULT")),
        timeout_ds=ctx.number("ISO_SYSLINUX_TIMEOUT"),
        recover_mode=ctx.text("ISO_RECOVER_MODE").strip() or None,
        efi_loader=efi.loader if efi else None,
        signed_chain=efi.chain if efi else None,
        volume_id=ctx.text("ISO_VOLID"),
        hybrid=ctx.flag("ISO_HYBRID"),
        extra_files=extra_iso_files(ctx.items("ISO_FILES"), ctx.state.iso_files),
        private=bool(ctx.state.iso_files),  # BACKUP_URL=iso://: the ISO holds the backup
    )
    notice("ISO: %s (%.1f MiB)", image.path, image.size / 2**20)
    ctx.state.result_files.append(image.path)
    ctx.state.result_digests[image.path] = image.sha256
