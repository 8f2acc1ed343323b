"""BACKUP=NSR: the server and save sets recorded by mkrescue are there, and an operator is present when the
server starts the restore (ReaR: verify/NSR/default/400_verify_nsr.sh, 410_verify_nsr_paths.sh)."""

from __future__ import annotations

from rearbuild.backup.nsr import recorded, settings
from rearbuild.context import Context
from rearbuild.errors import UserError
from rearbuild.log import notice


def main(ctx: Context) -> None:
    s = settings(ctx.settings)
    server, paths = recorded(s, ctx.paths.recovery_dir)
    if s.operator_restores and not ctx.interactive:
        raise UserError(
            "NSR_CLIENT_REQUESTRESTORE: the restore is started on the NetWorker server and an operator confirms it, "
            "and this run is non-interactive; nothing was written",
            hint="run recover interactively",
        )
    ctx.state.restore_selection = (server, *paths)
    notice("NetWorker server %s; save sets to recover: %s", server, " ".join(paths) or "(started on the server)")
