"""BACKUP=TSM: the server answers and lists this node's file spaces; those that are file systems of the layout are
chosen -- all before any disk is written (ReaR: verify/TSM/default/389_check_TSM_connection.sh, 400_verify_tsm.sh)."""

from __future__ import annotations

from rearbuild.backup.selection import layout_mountpoints
from rearbuild.backup.tsm import check_session, choose, filespaces, settings
from rearbuild.context import Context
from rearbuild.log import notice


def main(ctx: Context) -> None:
    s = settings(ctx.settings)
    check_session(s)
    layout = ctx.state.recover_layout
    mountpoints = layout_mountpoints(layout)[0] if layout is not None else None
    ctx.state.restore_selection = choose(filespaces(s), mountpoints)
    notice("TSM file spaces to restore: %s", " ".join(ctx.state.restore_selection))
