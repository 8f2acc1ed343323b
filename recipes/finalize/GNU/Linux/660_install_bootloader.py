"""Install the boot loader that was in use with the restored system's own grub-install: GRUB2 for BIOS on the
original boot disk(s) (GRUB2_INSTALL_DEVICES to choose), GRUB2 EFI with its NVRAM entry on UEFI. When nothing can
be installed the user is told exactly what to do by hand, as ReaR does."""

from __future__ import annotations

from pathlib import Path

from rearbuild.context import Context
from rearbuild.errors import UserError
from rearbuild.layout.disklayout import read_layout
from rearbuild.log import notice
from rearbuild.recover.bootloader import Firmware, plan_boot
from rearbuild.recover.chroot import chroot_mounts
from rearbuild.run import run

_BY_HAND = (
    "THE RECOVERED SYSTEM HAS NO BOOT LOADER YET: install one by hand before rebooting, e.g. "
    "mount --rbind /dev {root}/dev; mount --rbind /proc {root}/proc; mount --rbind /sys {root}/sys; "
    "chroot {root} grub-install /dev/<boot disk>"
)


def main(ctx: Context) -> None:
    root = ctx.results.get("finalize_root")
    if not isinstance(root, Path):
        return
    layout = ctx.results.get("recover_layout")
    if layout is None:
        layout = read_layout(Path(ctx.text("DISKLAYOUT_FILE")))
    boot = plan_boot(layout, root, firmware=Firmware.current(), explicit=ctx.items("GRUB2_INSTALL_DEVICES"))
    commands = boot.commands(root)
    if not commands:
        why = "the restored system has no grub-install" if boot.grub_install is None else "no boot disk is known"
        notice("WARNING: %s. %s", why, _BY_HAND.format(root=root))
        return
    with chroot_mounts(root):
        for command in commands:
            notice("installing the boot loader: %s", " ".join(command[2:]))
            try:
                run(command, timeout=600)
            except UserError as exc:
                notice("WARNING: %s. %s", exc.message, _BY_HAND.format(root=root))
                return
    ctx.results["bootloader_installed"] = True
