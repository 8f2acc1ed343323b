"""BACKUP=NSR: `recover -s SERVER -c HOST -d TARGET -a SAVESETS`, or the operator restores from the server
(ReaR: restore/NSR/default/400_restore_with_nsr.sh)."""

from __future__ import annotations

from rearbuild.backup.nsr import restore, settings
from rearbuild.backup.vendor import hand_over
from rearbuild.context import Context
from rearbuild.log import notice


def main(ctx: Context) -> None:
    s = settings(ctx.settings)
    server, *paths = ctx.state.restore_selection
    target = ctx.recover.target_root
    if ctx.recover.show_plan or ctx.state.stop_after_plan:
        notice("restore: would recover %s from NetWorker server %s", " ".join(paths), server)
        return
    target.mkdir(parents=True, exist_ok=True)
    if s.operator_restores:
        message = f"Start the restore on the NetWorker server {server}; restore everything into {target}."
        hand_over(message, target, interactive=ctx.interactive)
        return
    restore(s, server, tuple(paths), target)
