"""BACKUP=BORG: borg create of the layout's mount tree, then borg prune (ReaR: backup/BORG/default/400_create_
include_exclude_files.sh, 500_make_backup.sh, 800_prune_old_backups.sh)."""

from __future__ import annotations

from pathlib import Path

from rearbuild.backup.borg import make_backup, selection, settings
from rearbuild.backup.netfs import backup_layout
from rearbuild.context import Context


def main(ctx: Context) -> None:
    s = settings(ctx.settings)
    own = ctx.never_backed_up()
    layout = backup_layout(ctx.state.layout, Path(ctx.text("DISKLAYOUT_FILE")))
    make_backup(s, selection(s, layout, own), ctx.tmp_dir, ctx.state.borg_archives)
