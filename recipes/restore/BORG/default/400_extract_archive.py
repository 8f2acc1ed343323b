"""BACKUP=BORG: borg extract of the chosen archive in the target, /mnt/local or the --demo directory
(ReaR: restore/BORG/default/400_restore_backup.sh)."""

from __future__ import annotations

from rearbuild.backup.borg import passphrase, restore, settings
from rearbuild.context import Context
from rearbuild.log import notice
from rearbuild.state import required


def main(ctx: Context) -> None:
    s = passphrase(settings(ctx.settings), typed=ctx.state.crypt_key, interactive=ctx.interactive)
    archive = required(ctx.state.borg_archive, "the Borg archive chosen in verify")
    if ctx.recover.show_plan or ctx.state.stop_after_plan:
        notice("restore: would extract %s::%s into %s", s.where, archive, ctx.recover.target_root)
        return
    restore(s, archive, ctx.recover)
