"""OUTPUT=OBDR: the rescue ISO onto the tape after the label, in 2048-byte records, then a file mark; a backup
follows as tape file 3 (ReaR: output/OBDR/default/500_set_obdr_blocksize.sh, 840_write_image.sh)."""

from __future__ import annotations

from pathlib import Path

from rearbuild.context import Context
from rearbuild.log import notice
from rearbuild.output.obdr import settings, write_obdr


def main(ctx: Context) -> None:
    s = settings(ctx.settings)
    iso = Path(ctx.text("ISO_DIR")) / f"{ctx.text('ISO_PREFIX')}.iso"
    write_obdr(s, iso)
    notice("OBDR: label %s and %s written to tape %s", s.label, iso.name, s.device)
