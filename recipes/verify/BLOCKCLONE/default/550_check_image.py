"""BACKUP=BLOCKCLONE: the image is there and its sha256 matches, before any disk is touched
(ReaR: verify/BLOCKCLONE/default/550_check_backup_archive.sh)."""

from __future__ import annotations

from rearbuild.backup.blockclone import settings, verify
from rearbuild.context import Context


def main(ctx: Context) -> None:
    ctx.state.backup_archive = verify(settings(ctx.settings), ctx.mount_dir)
