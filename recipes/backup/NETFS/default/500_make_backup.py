"""BACKUP=NETFS: tar the layout's mount tree into BACKUP_URL (ReaR: backup/NETFS/default/500_make_backup.sh)."""

from __future__ import annotations

from rearbuild.backup.netfs import make_backup
from rearbuild.context import Context


def main(ctx: Context) -> None:
    make_backup(ctx)
