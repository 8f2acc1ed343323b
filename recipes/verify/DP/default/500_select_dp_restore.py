"""BACKUP=DP: the cell manager is configured and the newest session of this host's file systems is chosen, before
any disk is written (ReaR: verify/DP/default/450_check_dp_cell_server.sh, 500_select_dp_restore.sh)."""

from __future__ import annotations

from rearbuild.backup.dp import cell_server, latest_session, objects, settings
from rearbuild.context import Context
from rearbuild.log import notice


def main(ctx: Context) -> None:
    s = settings(ctx.settings)
    cell = cell_server(s)
    session = latest_session(s, objects(s))
    ctx.state.restore_selection = (session,)
    notice("Data Protector cell manager %s: restoring session %s", cell, session)
