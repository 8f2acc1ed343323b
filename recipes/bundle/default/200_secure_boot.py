"""`rearbuild build PATH`: Secure Boot as the host asked for it (its SECURE_BOOT_BOOTLOADER and its recorded Secure
Boot state) checked on this builder before anything is built: the signed shim and GRUB must be here too, and the
bundle's kernel signed (rearbuild.output.secureboot; prep does the same on the host)."""

from __future__ import annotations

from rearbuild.context import Context
from rearbuild.output.secureboot import efi_boot_for
from rearbuild.secureboot import SecureBootState
from rearbuild.state import required


def main(ctx: Context) -> None:
    bundle = required(ctx.state.bundle, "the bundle")
    host = SecureBootState.parse(bundle.manifest.facts.get("SECURE_BOOT_STATE", ""))
    efi_boot_for(ctx.tristate("USING_UEFI_BOOTLOADER"), ctx.text("SECURE_BOOT_BOOTLOADER"), host, bundle.kernel)
