"""BACKUP=FDRUPSTREAM: the restore is run by an operator from the Director, so a run nobody can answer stops
here, before the disks are recreated and left empty."""

from __future__ import annotations

from rearbuild.context import Context
from rearbuild.errors import UserError


def main(ctx: Context) -> None:
    if not ctx.interactive and not ctx.recover.show_plan:
        raise UserError(
            "BACKUP=FDRUPSTREAM: the restore is run from the FDR/Upstream Director while recover waits for an "
            "operator, and this run is non-interactive; nothing was written",
            hint="run recover interactively",
        )
