"""BACKUP=RSYNC: BACKUP_URL is an rsync URL, rsync is installed and the server answers, before anything is built
(ReaR: prep/RSYNC/default/100_check_rsync.sh); rsync and ssh go into the rescue image."""

from __future__ import annotations

from rearbuild.backup.rsync import check, required_programs, settings
from rearbuild.context import Context


def main(ctx: Context) -> None:
    s = settings(ctx.settings)
    check(s)
    ctx.add("REQUIRED_PROGS", *(p for p in required_programs(s) if p not in ctx.items("REQUIRED_PROGS")))
