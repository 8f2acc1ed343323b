"""OUTPUT=OBDR: the drive is ready, the cartridge writable and labelled by `rearbuild format` before anything is
built; mt and the st driver go into the rescue image (ReaR: prep/OBDR/default/400_check_tape_drive.sh,
500_check_tape_label.sh)."""

from __future__ import annotations

from rearbuild.backup.tape import Drive
from rearbuild.context import Context
from rearbuild.output.obdr import settings


def main(ctx: Context) -> None:
    s = settings(ctx.settings)
    if ctx.options.workflow.builds_image:
        drive = Drive(s.device)
        drive.check_ready(write=True)
        drive.check_label(s.label)
    ctx.add("REQUIRED_PROGS", *(p for p in ("mt", "dd") if p not in ctx.items("REQUIRED_PROGS")))
    ctx.add("MODULES_LOAD", *(m for m in ("st",) if m not in ctx.items("MODULES_LOAD")))
