"""OUTPUT=CDROM: a drive with a writable medium must be there before the image is built (the burn itself
checks again, and the room on the medium, once the ISO's size is known). The work is rearbuild.output.cdrom."""

from __future__ import annotations

from rearbuild.context import Context
from rearbuild.log import notice
from rearbuild.output.cdrom import probe


def main(ctx: Context) -> None:
    medium = probe(ctx.text("CDROM_DEVICE"))
    notice("CDROM: %s holds %s (%s), %.0f MiB free", ctx.text("CDROM_DEVICE"), medium.kind, medium.status,
           medium.free_sectors * 2048 / 2**20)  # fmt: skip
