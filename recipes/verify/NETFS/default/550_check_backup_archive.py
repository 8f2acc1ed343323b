"""BACKUP=NETFS: the archive is reachable, its sha256 matches and it reads with the key and compression
configured -- all before layout/recreate touches a disk (ReaR: verify/NETFS/default/550_check_backup_archive.sh
and 600_check_encryption_key.sh)."""

from __future__ import annotations

from rearbuild.backup.netfs import KeyNeed, settings, verify_backup
from rearbuild.context import Context


def main(ctx: Context) -> None:
    if not ctx.options.workflow.restores:  # layoutonly, finalizeonly: no backup is read
        return
    s = settings(ctx.settings, key=KeyNeed.ASK, typed_key=ctx.state.crypt_key, interactive=ctx.interactive)
    ctx.state.crypt_key = s.key
    ctx.state.backup_archive = verify_backup(s, ctx.mount_dir)
