"""BACKUP=BLOCKCLONE: the cloning program is installed and, for a backup, the devices exist and the source is
not mounted (ReaR: layout/save/default/350_save_partitions.sh, backup/BLOCKCLONE/default/500_start_clone.sh);
the restore's programs go into the rescue image."""

from __future__ import annotations

from rearbuild.backup.blockclone import check, required_programs, settings
from rearbuild.context import Context


def main(ctx: Context) -> None:
    s = settings(ctx.settings)
    check(s, backing_up=ctx.options.workflow.backs_up)
    ctx.add("REQUIRED_PROGS", *(p for p in required_programs(s) if p not in ctx.items("REQUIRED_PROGS")))
