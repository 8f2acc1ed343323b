"""The rescue ISO: kernel + initrd + boot menus + isolinux + the EFI boot image, put together.

Layout (ReaR's, rear-upstream-study.md §4.4, so that documentation about ReaR ISOs stays true):

    /isolinux/isolinux.bin, ldlinux.c32, menu.c32, ...   BIOS boot
    /isolinux/isolinux.cfg, kernel, initrd.cgz
    /isolinux/boot.cat                                    El Torito boot catalog
    /boot/efiboot.img                                     UEFI boot (FAT: EFI/BOOT/BOOTX64.EFI, ...)
    /boot/grub/grub.cfg                                   the UEFI menu
    /.disk/info                                           how Debian's signed GRUB finds its ISO
    /.disk/rearbuild-<id>                                 how every GRUB config here finds *this* ISO
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from rearbuild.backup.progress import Progress
from rearbuild.config.model import Config
from rearbuild.errors import UserError
from rearbuild.facts import KernelCmdline
from rearbuild.output.bootloader import EfiLoader, IsolinuxFiles, SignedShim, find_isolinux
from rearbuild.output.bootmenu import (
    BootMenu,
    IsoDefault,
    SerialConsole,
    Templates,
)
from rearbuild.output.efi import write_fat_image
from rearbuild.output.iso import DEFAULT_VOLUME_ID, IsoBoot, IsoImage, IsoSource, write_iso
from rearbuild.output.pinned import derive_bytes, derive_u32
from rearbuild.output.serialconsole import SerialSettings

ISOLINUX_DIR = "/isolinux"
KERNEL_PATH = f"{ISOLINUX_DIR}/kernel"
INITRD_PATH = f"{ISOLINUX_DIR}/initrd.cgz"
EFI_IMAGE_PATH = "/boot/efiboot.img"
GRUB_CFG_PATH = "/boot/grub/grub.cfg"
DISK_INFO_PATH = "/.disk/info"
# The rescue system talks on the first serial port and on the screen; the last console= gets /dev/console.
CONSOLES = ("console=tty0", "console=ttyS0,115200")


def rescue_cmdline(
    extra: Sequence[str], copied: Sequence[str] = (), consoles: Sequence[str] = CONSOLES
) -> list[str]:
    """The rescue kernel's parameters: the consoles (rearbuild.output.serialconsole), KERNEL_CMDLINE, and the
    running system's parameters that change device naming (ReaR's COPY_KERNEL_PARAMETERS; `copied` holds them)
    unless already given."""
    words = [*consoles, *extra]
    return words + [w for w in copied if w not in words]


def kernel_cmdline(config: Config, running: KernelCmdline) -> list[str]:
    """The rescue kernel's parameters from the configuration: the consoles (USE_SERIAL_CONSOLE,
    SERIAL_CONSOLE_DEVICES), KERNEL_CMDLINE, and the COPY_KERNEL_PARAMETERS of the running system's command line."""
    consoles = SerialSettings.from_config(config).kernel_consoles()
    return rescue_cmdline(config.items("KERNEL_CMDLINE"), running.with_keys(config.items("COPY_KERNEL_PARAMETERS")),
                          consoles)  # fmt: skip


def extra_iso_files(iso_files: Sequence[str], from_stages: Mapping[str, Path]) -> dict[str, IsoSource]:
    """ISO_FILES (at the ISO's root, ReaR's behaviour) and what earlier stages put into the ISO, e.g. the backup
    with BACKUP_URL=iso:// (path in the ISO -> file on this host)."""
    files: dict[str, IsoSource] = {f"/{Path(f).name}": Path(f) for f in iso_files}
    for iso_path, source in from_stages.items():
        files["/" + iso_path.lstrip("/")] = source
    return files


def check_file_sizes(files: Mapping[str, Path], limit: int) -> None:
    """ISO_FILE_SIZE_LIMIT: no file may reach it (ISO 9660 level 2 stores a file in one extent of < 4 GiB;
    ECMA-119 9.1.4 gives the data length 32 bits)."""
    for name, path in files.items():
        size = path.stat().st_size
        if size >= limit:
            raise UserError(
                f"the {name} ({size} bytes) is larger than ISO_FILE_SIZE_LIMIT ({limit})",
                hint="make the image smaller (MODULES, FIRMWARE_FILES) or raise the limit",
            )


def marker_path(seed: str) -> str:
    """The file that identifies this build's ISO to GRUB's `search --file`."""
    return f"/.disk/rearbuild-{derive_bytes(seed, 'iso-marker', 8).hex()}"


def build_rescue_iso(
    out: Path,
    *,
    templates: Templates,
    kernel: Path,
    initrd: Path,
    epoch: int,
    seed: str,
    cmdline: Sequence[str] = (),
    iso_default: IsoDefault = IsoDefault.BOOTHD,
    timeout_ds: int | None = 50,
    recover_mode: str | None = None,
    serial: SerialConsole | Literal["cmdline"] | None = "cmdline",
    efi_loader: EfiLoader | None = EfiLoader.STANDALONE_GRUB,
    signed_chain: SignedShim | None = None,
    volume_id: str = DEFAULT_VOLUME_ID,
    hybrid: bool = True,
    extra_files: Mapping[str, IsoSource] | None = None,
    isolinux: IsolinuxFiles | None = None,
    private: bool = False,
) -> IsoImage:
    """Build the bootable rescue ISO at `out`.

    cmdline: kernel parameters of the Linux entries (e.g. console=tty0 console=ttyS0,115200); the boot menus talk
    on the serial port of its first console=ttyS (serial="cmdline", the default), or on `serial`.
    iso_default, timeout_ds, recover_mode: ReaR's ISO_DEFAULT, the menu timeout in 1/10 s (None: wait),
    ISO_RECOVER_MODE. efi_loader None makes a BIOS-only ISO; signed_chain: the shim and GRUB of SIGNED_SHIM
    (rearbuild.output.secureboot; None: the distribution's). extra_files: more files (ISO path -> source);
    they must not replace the boot files. templates: the boot menus (images/iso/). epoch and seed make the
    result reproducible. private: the ISO holds a backup (BACKUP_URL=iso://): readable by its owner only.
    """
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {out.parent} for the ISO: {exc.strerror}", hint="check ISO_DIR") from exc
    marker = marker_path(seed)
    menu = BootMenu(
        kernel=KERNEL_PATH,
        initrd=INITRD_PATH,
        marker=marker,
        cmdline=tuple(cmdline),
        default=iso_default,
        timeout_ds=timeout_ds,
        recover_mode=recover_mode,
        serial=SerialConsole.from_cmdline(cmdline) if serial == "cmdline" else serial,
    )
    syslinux = isolinux if isolinux is not None else find_isolinux()
    files: dict[str, IsoSource] = {
        f"{ISOLINUX_DIR}/isolinux.bin": syslinux.isolinux_bin,
        f"{ISOLINUX_DIR}/isolinux.cfg": templates.isolinux_cfg(menu).encode(),
        KERNEL_PATH: kernel,
        INITRD_PATH: initrd,
        marker: marker.rpartition("-")[2].encode() + b"\n",
        DISK_INFO_PATH: f"Relax-and-Recover rescue system {volume_id}\n".encode(),
    }
    files.update({f"{ISOLINUX_DIR}/{name}": path for name, path in syslinux.modules.items()})
    for name, source in (extra_files or {}).items():
        key = "/" + name.lstrip("/")
        if key in files or key in (EFI_IMAGE_PATH, GRUB_CFG_PATH):
            raise UserError(f"the extra ISO file {key} would replace a boot file of the rescue ISO")
        files[key] = source
    with tempfile.TemporaryDirectory(prefix=".rescue-iso-", dir=out.parent if out.parent.exists() else None) as tmp:
        workdir = Path(tmp)
        if efi_loader is not None:
            files[GRUB_CFG_PATH] = templates.grub_cfg(menu).encode()
            efi_files = efi_loader.efi_files(
                workdir, early_config=templates.grub_early_cfg(marker), chain=signed_chain
            )
            image = write_fat_image(
                workdir / "efiboot.img",
                efi_files,
                epoch=epoch,
                volume_id=derive_u32(seed, "efiboot-volume-id"),
            )
            files[EFI_IMAGE_PATH] = image.path
        boot = IsoBoot(
            bios=f"{ISOLINUX_DIR}/isolinux.bin",
            catalog=f"{ISOLINUX_DIR}/boot.cat",
            efi=EFI_IMAGE_PATH if efi_loader is not None else None,
            hybrid=hybrid,
        )
        # a line on a terminal while it is written, as backup and restore show; nothing in a pipe or cron
        progress = Progress("writing the ISO", None, terminal_only=True)
        iso = write_iso(out, files, epoch=epoch, seed=seed, volume_id=volume_id, boot=boot, private=private,
                        progress=progress.update)  # fmt: skip
        progress.finish()
        return iso
