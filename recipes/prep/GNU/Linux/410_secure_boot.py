"""Secure Boot of the rescue media (SECURE_BOOT_BOOTLOADER, or this host booted with Secure Boot on): the signed
shim and GRUB must be installed and the kernel signed. Checked here, before anything is built; see
rearbuild.output.secureboot."""

from __future__ import annotations

from rearbuild.context import Context
from rearbuild.log import notice
from rearbuild.output.secureboot import efi_boot_for
from rearbuild.state import required


def main(ctx: Context) -> None:
    if not ctx.options.workflow.builds_image:
        return
    kernel = required(ctx.state.kernel, "the kernel (prep)")
    setting = ctx.text("SECURE_BOOT_BOOTLOADER")
    boot = efi_boot_for(ctx.tristate("USING_UEFI_BOOTLOADER"), setting, ctx.facts.secure_boot, kernel.path)
    if boot is not None:
        chain = f" ({boot.chain.shim}, {boot.chain.grub})" if boot.chain else ""
        notice("UEFI boot: %s, Secure Boot %s%s", boot.loader.value, boot.mode.value, chain)
