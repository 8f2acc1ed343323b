"""BACKUP=TSM: mkbackup runs `dsmc incremental` over the layout's mount points
(ReaR: backup/TSM/default/500_make_TSM_backup.sh)."""

from __future__ import annotations

from pathlib import Path

from rearbuild.backup.netfs import backup_layout
from rearbuild.backup.selection import layout_mountpoints
from rearbuild.backup.tsm import backup, settings
from rearbuild.context import Context


def main(ctx: Context) -> None:
    layout = backup_layout(ctx.state.layout, Path(ctx.text("DISKLAYOUT_FILE")))
    includes = layout_mountpoints(layout)[0] if layout is not None else ()
    includes = (*includes, *ctx.items("BACKUP_PROG_INCLUDE"))
    backup(settings(ctx.settings), tuple(dict.fromkeys(includes)), ctx.paths.var_dir / "backup_tsm_log/backup.log")
