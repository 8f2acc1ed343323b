"""BACKUP=NETFS: extract the archive into the target, /mnt/local or the --demo directory
(ReaR: restore/NETFS/default/400_restore_backup.sh)."""

from __future__ import annotations

from rearbuild.backup.netfs import restore_backup
from rearbuild.context import Context


def main(ctx: Context) -> None:
    restore_backup(ctx)
