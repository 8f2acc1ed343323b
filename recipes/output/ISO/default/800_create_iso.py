"""The rescue ISO (pycdlib, no root, no mount): BIOS isolinux + UEFI GRUB, isohybrid, reproducible.
Written to $ISO_DIR/$ISO_PREFIX.iso as ReaR does; 950_copy_result_files publishes it to OUTPUT_URL."""

from __future__ import annotations

from pathlib import Path

from rearbuild.build.initrd import InitrdResult
from rearbuild.checksum import sha256_file
from rearbuild.context import Context
from rearbuild.errors import InternalError, UserError
from rearbuild.log import notice
from rearbuild.manifest import Manifest
from rearbuild.output.bootloader import EfiLoader
from rearbuild.output.bootmenu import IsoDefault, Templates
from rearbuild.output.rescue_iso import build_rescue_iso

# The rescue system talks on the first serial port and on the screen; the last console= gets /dev/console.
_CONSOLES = ("console=tty0", "console=ttyS0,115200")


def kernel_cmdline(ctx: Context) -> list[str]:
    words = [*_CONSOLES, *ctx.text("KERNEL_CMDLINE").split()]
    # ReaR's COPY_KERNEL_PARAMETERS: options of the running system that change device naming.
    try:
        running = Path("/proc/cmdline").read_text().split()
    except OSError:
        running = []
    wanted = set(ctx.items("COPY_KERNEL_PARAMETERS"))
    words += [w for w in running if w.split("=", 1)[0] in wanted and w not in words]
    return words


def efi_loader(ctx: Context) -> EfiLoader | None:
    uefi = ctx.text("USING_UEFI_BOOTLOADER").strip().lower()
    if uefi in ("n", "no", "false", "0"):
        return None
    secure = ctx.text("SECURE_BOOT_BOOTLOADER").strip().lower()
    if secure in ("n", "no", "false", "0"):
        return EfiLoader.STANDALONE_GRUB
    # Empty: the signed shim when the distribution's is installed (it boots with Secure Boot on and off),
    # else a standalone GRUB. Anything else asks for Secure Boot and fails clearly without the signed files.
    return EfiLoader.choose(True if secure else None)


def extra_files(ctx: Context) -> dict[str, Path | bytes]:
    """ISO_FILES (at the ISO's root, ReaR's behaviour) and what earlier stages put into the ISO, e.g. the backup
    with BACKUP_URL=iso:// (ctx.results["iso_files"]: path in the ISO -> file on this host)."""
    files: dict[str, Path | bytes] = {f"/{Path(f).name}": Path(f) for f in ctx.items("ISO_FILES")}
    for iso_path, source in dict(ctx.results.get("iso_files", {})).items():
        files["/" + str(iso_path).lstrip("/")] = Path(source)
    return files


def main(ctx: Context) -> None:
    manifest = ctx.results.get("manifest")
    initrd = ctx.results.get("initrd")
    if not isinstance(manifest, Manifest) or not isinstance(initrd, InitrdResult):
        raise InternalError("the ISO needs the manifest and the initrd")
    iso_dir = Path(ctx.text("ISO_DIR"))
    try:
        iso_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create ISO_DIR {iso_dir}: {exc.strerror}") from exc
    out = iso_dir / f"{ctx.text('ISO_PREFIX')}.iso"
    digest = sha256_file(initrd.path)
    timeout = ctx.number("ISO_SYSLINUX_TIMEOUT")
    mode = ctx.text("ISO_RECOVER_MODE").strip() or None
    image = build_rescue_iso(
        out,
        templates=Templates(ctx.paths.share_dir / "images" / "iso"),
        kernel=Path(manifest.kernel_file),
        initrd=initrd.path,
        epoch=ctx.epoch,
        seed=f"{manifest.facts.get('HOSTNAME', '')}:{digest}",
        cmdline=kernel_cmdline(ctx),
        iso_default=IsoDefault.parse(ctx.text("ISO_DEFAULT")),
        timeout_ds=timeout,
        recover_mode=mode,
        efi_loader=efi_loader(ctx),
        volume_id=ctx.text("ISO_VOLID"),
        hybrid=ctx.flag("ISO_HYBRID"),
        extra_files=extra_files(ctx),
    )
    limit = ctx.number("ISO_FILE_SIZE_LIMIT")
    for name, size in (("initrd", initrd.path.stat().st_size), ("kernel", Path(manifest.kernel_file).stat().st_size)):
        if size >= limit:
            raise UserError(
                f"the {name} ({size} bytes) is larger than ISO_FILE_SIZE_LIMIT ({limit})",
                hint="make the image smaller (MODULES, FIRMWARE_FILES) or raise the limit",
            )
    notice("ISO: %s (%.1f MiB)", image.path, image.size / 2**20)
    ctx.result_files.append(image.path)
    ctx.results.setdefault("result_digests", {})[image.path] = image.sha256
