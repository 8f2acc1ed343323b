"""BACKUP=NETFS: tar the layout's mount tree into BACKUP_URL (ReaR: backup/NETFS/default/500_make_backup.sh)."""

from __future__ import annotations

from pathlib import Path

from rearbuild.backup.netfs import (
    KeyNeed,
    Places,
    backup_layout,
    check_destination,
    make_backup,
    settings,
)
from rearbuild.context import Context


def main(ctx: Context) -> None:
    s = settings(ctx.settings, key=KeyNeed.CONFIGURED)
    workflow = ctx.options.workflow
    check_destination(s, backing_up=True, builds_iso=workflow.builds_image and ctx.text("OUTPUT") == "ISO")
    own = ctx.never_backed_up()
    places = Places(ctx.tmp_dir, ctx.mount_dir, ctx.paths.recovery_dir, never_backed_up=own)
    layout = backup_layout(ctx.state.layout, Path(ctx.text("DISKLAYOUT_FILE")))
    backup = make_backup(s, places, layout)
    ctx.state.backup_archive = backup.archive
    ctx.state.iso_files.update(backup.iso_files)
