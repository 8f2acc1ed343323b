"""`rearbuild format [-- --efi|--bios|--yes] DEVICE` for OUTPUT=USB: ReaR's layout (GPT, BIOS boot partition,
ESP REAR-EFI, data partition REAR-000; format/USB/default/300_format_usb_disk.sh), after showing what is erased
and asking. The same refusals as `write`: never a mounted disk or the running system's."""

from __future__ import annotations

import stat
from pathlib import Path

from rearbuild.context import Context
from rearbuild.errors import UserError
from rearbuild.log import notice
from rearbuild.output import stickwrite, usb


def main(ctx: Context) -> None:
    args = ctx.options.workflow.parse_arguments(ctx.options.args)
    if args.efi and args.bios:
        raise UserError("--efi and --bios exclude each other", hint="give neither for a stick that boots both")
    if ctx.text("USB_DEVICE_PARTED_LABEL") not in ("", "gpt"):
        raise UserError(f"USB_DEVICE_PARTED_LABEL={ctx.text('USB_DEVICE_PARTED_LABEL')} is not supported",
                        hint="rearbuild formats sticks with GPT (boots BIOS and UEFI); leave it empty")  # fmt: skip
    device = Path(args.device)
    if device.exists() and stat.S_ISBLK(device.stat().st_mode):
        target = stickwrite.inspect(device)
        stickwrite.check_target(target, force=args.force)
        notice("everything on this device will be erased:\n%s", target.describe())
    elif not device.is_file():
        raise UserError(f"{device} is neither a block device nor a disk image file", hint="name the whole stick")
    stickwrite.confirm(f"Erase {device} and format it for ReaR?", assume_yes=args.yes)
    firmware = usb.Firmware.EFI if args.efi else usb.Firmware.BIOS if args.bios else usb.Firmware.BOTH
    spec = usb.FormatSpec(firmware, ctx.number("USB_UEFI_PART_SIZE") * usb.MIB,
                          ctx.number("USB_PARTITION_ALIGN_BLOCK_SIZE") * usb.MIB,
                          ctx.number("USB_DEVICE_FILESYSTEM_PERCENTAGE"), ctx.text("USB_DEVICE_FILESYSTEM"),
                          ctx.text("USB_DEVICE_FILESYSTEM_LABEL"),
                          ctx.items("USB_DEVICE_FILESYSTEM_PARAMS"))  # fmt: skip
    seed = f"{device}:{stickwrite.random_seed()}"  # a new identity per format: two sticks never share GUIDs
    parts = usb.format_medium(device, spec, seed=seed, epoch=ctx.epoch)
    notice("formatted %s: %s", device, ", ".join(f"{p.name} ({p.size // usb.MIB} MiB)" for p in parts))
