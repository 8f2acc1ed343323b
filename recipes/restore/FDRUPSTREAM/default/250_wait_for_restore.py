"""BACKUP=FDRUPSTREAM: the operator restores '/' into the target from the Director; recover waits for ENTER
(ReaR: restore/FDRUPSTREAM/default/250_wait_for_restore.sh)."""

from __future__ import annotations

from rearbuild.backup.fdrupstream import instructions
from rearbuild.backup.vendor import hand_over
from rearbuild.context import Context


def main(ctx: Context) -> None:
    if ctx.recover.show_plan or ctx.state.stop_after_plan:
        return
    target = ctx.recover.target_root
    target.mkdir(parents=True, exist_ok=True)
    hand_over(instructions(target), target, interactive=ctx.interactive)
