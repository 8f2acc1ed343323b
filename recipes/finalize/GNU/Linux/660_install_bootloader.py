"""Install the boot loader that was in use with the restored system's own grub-install: GRUB2 for BIOS on the
original boot disk(s) (GRUB2_INSTALL_DEVICES to choose), GRUB2 EFI with its NVRAM entry on UEFI (through the
restored system's signed shim when it has one, so Secure Boot stays on). When nothing can
be installed the user is told exactly what to do by hand, as ReaR does. BOOTLOADER forces BIOS or UEFI."""

from __future__ import annotations

from pathlib import Path

from rearbuild.context import Context
from rearbuild.layout.disklayout import read_layout
from rearbuild.recover.bootloader import Bootloader, Firmware, install, plan_boot


def main(ctx: Context) -> None:
    root = ctx.state.finalize_root
    if root is None:
        return
    layout = ctx.state.recover_layout or read_layout(Path(ctx.text("DISKLAYOUT_FILE")))
    boot = plan_boot(
        layout,
        root,
        firmware=Bootloader.parse(ctx.text("BOOTLOADER")).firmware or Firmware.current(),
        explicit=ctx.items("GRUB2_INSTALL_DEVICES"),
        secure_boot_on=ctx.facts.secure_boot.enabled,  # the rescue system booted with Secure Boot on
    )
    ctx.state.bootloader_installed = install(boot, root)
