"""BACKUP=DP: one omnir call restores the chosen session's file systems into the target
(ReaR: restore/DP/default/400_restore_with_dp.sh)."""

from __future__ import annotations

from rearbuild.backup.dp import objects, restore, restore_argv, settings
from rearbuild.backup.selection import layout_mountpoints
from rearbuild.context import Context
from rearbuild.log import notice


def main(ctx: Context) -> None:
    s = settings(ctx.settings)
    layout = ctx.state.recover_layout
    mountpoints = layout_mountpoints(layout)[0] if layout is not None else None
    target = ctx.recover.target_root
    argv = restore_argv(s, objects(s), ctx.state.restore_selection[0], target, mountpoints)
    if ctx.recover.show_plan or ctx.state.stop_after_plan:
        notice("restore: would run %s", " ".join(argv))
        return
    target.mkdir(parents=True, exist_ok=True)
    restore(s, argv)
