"""BACKUP=NETFS: check BACKUP_URL, compression and encryption before anything is built, and put the programs the
restore runs into the rescue image (ReaR: prep/NETFS/default/050_check_NETFS_requirements.sh)."""

from __future__ import annotations

from rearbuild.backup.netfs import KeyNeed, check_destination, missing_programs, required_programs, settings
from rearbuild.backup.tape import Drive
from rearbuild.context import Context
from rearbuild.errors import UserError


def main(ctx: Context) -> None:
    workflow = ctx.options.workflow
    s = settings(ctx.settings, key=KeyNeed.CONFIGURED if workflow.backs_up else KeyNeed.NONE)
    check_destination(s, backing_up=workflow.backs_up, builds_iso=workflow.builds_image and ctx.text("OUTPUT") == "ISO")
    programs = required_programs(s)
    missing = missing_programs(programs) if workflow.backs_up else ()
    if missing:
        raise UserError(f"BACKUP=NETFS needs {', '.join(missing)}", hint="install them (apt-get install ...)")
    ctx.add("REQUIRED_PROGS", *(p for p in programs if p not in ctx.items("REQUIRED_PROGS")))
    if s.tape is not None:  # BACKUP_URL=tape://: the drive answers before anything is built (ReaR: prep/TAPE/400)
        if workflow.backs_up:
            Drive(s.tape.device).check_ready(write=True)
        ctx.add("MODULES_LOAD", *(m for m in s.url.scheme.modules if m not in ctx.items("MODULES_LOAD")))
