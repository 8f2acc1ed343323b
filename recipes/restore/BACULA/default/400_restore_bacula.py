"""BACKUP=BACULA: bextract from the volume, or a restore through the director (automatic with
BACULA_RESTORE_AUTOMATIC=yes, else in bconsole), into /mnt/local or the --demo directory
(ReaR: restore/BACULA/default/400_restore_backup.sh)."""

from __future__ import annotations

from rearbuild.backup.bacula import restore, settings
from rearbuild.context import Context
from rearbuild.log import notice


def main(ctx: Context) -> None:
    s = settings(ctx.settings)
    if ctx.recover.show_plan or ctx.state.stop_after_plan:
        notice("restore: would restore the Bacula backup of %s into %s", s.client, ctx.recover.target_root)
        return
    restore(s, ctx.recover, interactive=ctx.interactive)
