"""BOOTLOADER and GRUB_RESCUE are checked before anything is built: a value recovery could not honour would
otherwise be found out at the end of a recovery (rearbuild.recover.bootloader)."""

from __future__ import annotations

from rearbuild.context import Context
from rearbuild.recover.bootloader import Bootloader, check_grub_rescue


def main(ctx: Context) -> None:
    Bootloader.parse(ctx.text("BOOTLOADER"), ctx.settings.where("BOOTLOADER"))
    check_grub_rescue(ctx.flag("GRUB_RESCUE"), ctx.settings.where("GRUB_RESCUE"))
