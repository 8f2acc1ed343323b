"""BACKUP=RSYNC: mirror the layout's mount tree to <BACKUP_URL>/<RSYNC_PREFIX>/backup (ReaR: backup/RSYNC/default/
200_make_prefix_dir.sh, 500_make_rsync_backup.sh)."""

from __future__ import annotations

from pathlib import Path

from rearbuild.backup.netfs import backup_layout
from rearbuild.backup.rsync import make_backup, selection, settings
from rearbuild.context import Context
from rearbuild.log import notice


def main(ctx: Context) -> None:
    s = settings(ctx.settings)
    own = ctx.never_backed_up()
    layout = backup_layout(ctx.state.layout, Path(ctx.text("DISKLAYOUT_FILE")))
    summary = make_backup(s, selection(s, layout, own), ctx.tmp_dir)
    if summary:
        notice("%s", summary.splitlines()[-1])
