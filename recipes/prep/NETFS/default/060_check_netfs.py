"""BACKUP=NETFS: check BACKUP_URL, compression and encryption before anything is built, and put the programs the
restore runs into the rescue image (ReaR: prep/NETFS/default/050_check_NETFS_requirements.sh)."""

from __future__ import annotations

import shutil

from rearbuild.backup.netfs import check_workflow, required_programs, settings
from rearbuild.context import Context
from rearbuild.errors import UserError
from rearbuild.workflow import Workflow


def main(ctx: Context) -> None:
    backing_up = Workflow.parse(ctx.options.workflow) in (Workflow.MKBACKUP, Workflow.MKBACKUPONLY)
    s = settings(ctx, need_key=backing_up)
    check_workflow(ctx, s)
    programs = required_programs(s)
    if backing_up:
        missing = [p for p in programs if shutil.which(p) is None]
        if missing:
            raise UserError(f"BACKUP=NETFS needs {', '.join(missing)}", hint="install them (apt-get install ...)")
    ctx.add("REQUIRED_PROGS", *(p for p in programs if p not in ctx.items("REQUIRED_PROGS")))
