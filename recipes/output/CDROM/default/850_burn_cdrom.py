"""OUTPUT=CDROM: burn the rescue ISO to CDROM_DEVICE with xorriso (blanking a rewritable disc when needed). The
ISO stays a result, published to OUTPUT_URL with its sha256 as for OUTPUT=ISO. The work is
rearbuild.output.cdrom."""

from __future__ import annotations

from pathlib import Path

from rearbuild.context import Context
from rearbuild.log import notice
from rearbuild.output.cdrom import burn


def main(ctx: Context) -> None:
    iso = Path(ctx.text("ISO_DIR")) / f"{ctx.text('ISO_PREFIX')}.iso"
    medium = burn(iso, ctx.text("CDROM_DEVICE"))
    notice("CDROM: %s burnt to %s (%s)", iso.name, ctx.text("CDROM_DEVICE"), medium.kind)
