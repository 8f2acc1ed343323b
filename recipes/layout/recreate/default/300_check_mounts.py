"""After the plan: every file system of the layout is mounted under the target root (ReaR's 250_verify_mount)."""

from __future__ import annotations

from rearbuild.context import Context
from rearbuild.errors import UserError
from rearbuild.log import notice
from rearbuild.recover.planscript import unmounted
from rearbuild.state import required


def main(ctx: Context) -> None:
    if ctx.state.stop_after_plan or not ctx.recover.touches_disks:
        return
    plan = required(ctx.state.recover_plan, "the disk plan")
    missing = unmounted(plan)
    if missing:
        raise UserError(
            "the disk plan ran, yet these file systems are not mounted: " + "; ".join(missing),
            hint="mount them by hand (the rescue shell), then run `rearbuild restoreonly`",
        )
    notice("%d file systems mounted under %s", len(plan.mounts), ctx.recover.target_root)
