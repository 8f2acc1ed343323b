"""BACKUP=NETFS: the archive is reachable, its sha256 matches and it reads with the key and compression
configured -- all before layout/recreate touches a disk (ReaR: verify/NETFS/default/550_check_backup_archive.sh
and 600_check_encryption_key.sh)."""

from __future__ import annotations

from rearbuild.backup.netfs import verify_backup
from rearbuild.context import Context


def main(ctx: Context) -> None:
    verify_backup(ctx)
