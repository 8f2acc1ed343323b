"""BACKUP=NETFS: extract the archive into the target, /mnt/local or the --demo directory
(ReaR: restore/NETFS/default/400_restore_backup.sh)."""

from __future__ import annotations

from rearbuild.backup.netfs import KeyNeed, restore_backup, settings
from rearbuild.context import Context
from rearbuild.log import notice


def main(ctx: Context) -> None:
    s = settings(ctx.settings, key=KeyNeed.ASK, typed_key=ctx.state.crypt_key, interactive=ctx.interactive)
    ctx.state.crypt_key = s.key
    if ctx.recover.show_plan or ctx.state.stop_after_plan:
        notice("restore: would extract %s from %s into %s", s.archive.name, s.url.text, ctx.recover.target_root)
        return
    restored = restore_backup(s, ctx.recover, mount_dir=ctx.mount_dir, recovery_dir=ctx.paths.recovery_dir)
    ctx.state.restored_directories = restored.directories
    ctx.state.restored_includes = restored.includes
