"""BACKUP=TSM: `dsmc restore` of each chosen file space into the target
(ReaR: restore/TSM/default/400_restore_with_tsm.sh)."""

from __future__ import annotations

from rearbuild.backup.tsm import restore, settings
from rearbuild.context import Context
from rearbuild.log import notice


def main(ctx: Context) -> None:
    if ctx.recover.show_plan or ctx.state.stop_after_plan:
        notice("restore: would restore TSM file spaces %s", " ".join(ctx.state.restore_selection))
        return
    target = ctx.recover.target_root
    target.mkdir(parents=True, exist_ok=True)
    restore(settings(ctx.settings), ctx.state.restore_selection, target, ctx.paths.var_dir / "restore")
