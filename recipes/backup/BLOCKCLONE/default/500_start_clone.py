"""BACKUP=BLOCKCLONE: the partition table and boot code (BLOCKCLONE_SAVE_MBR_DEV), then the image of
BLOCKCLONE_SOURCE_DEV (ReaR: backup/BLOCKCLONE/default/400_copy_disk_struct_files.sh, 500_start_clone.sh)."""

from __future__ import annotations

from rearbuild.backup.blockclone import make_backup, settings
from rearbuild.context import Context


def main(ctx: Context) -> None:
    ctx.state.backup_archive = make_backup(settings(ctx.settings), ctx.mount_dir)
