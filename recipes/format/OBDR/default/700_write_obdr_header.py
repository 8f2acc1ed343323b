"""`rearbuild format DEVICE` with OUTPUT=OBDR: label the tape REAR-000 (20 x 512-byte records), which erases it
(ReaR: format/OBDR/default/700_write_OBDR_header.sh)."""

from __future__ import annotations

from rearbuild.context import Context
from rearbuild.log import notice
from rearbuild.output.obdr import format_tape


def main(ctx: Context) -> None:
    device = str(ctx.options.workflow.parse_arguments(ctx.options.args).device)
    label = ctx.text("USB_DEVICE_FILESYSTEM_LABEL") or "REAR-000"
    format_tape(device, label)
    notice("tape %s labelled %s", device, label)
