"""BACKUP=RSYNC: rsync the backup tree into the target, /mnt/local or the --demo directory
(ReaR: restore/RSYNC/default/200_remove_relative_rsync_option.sh, 400_restore_rsync_backup.sh)."""

from __future__ import annotations

from rearbuild.backup.rsync import restore, settings
from rearbuild.context import Context
from rearbuild.log import notice


def main(ctx: Context) -> None:
    s = settings(ctx.settings)
    if ctx.recover.show_plan or ctx.state.stop_after_plan:
        notice("restore: would rsync %s into %s", s.remote, ctx.recover.target_root)
        return
    restore(s, ctx.recover)
