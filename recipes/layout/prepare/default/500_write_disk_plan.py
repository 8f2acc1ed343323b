"""Write the disk plan as $VAR_DIR/layout/diskrestore.sh; `recover --plan` prints it instead and stops the
workflow cleanly (ctx.state.stop_after_plan), `--demo` only lists what would be done."""

from __future__ import annotations

import sys

from rearbuild.context import Context
from rearbuild.log import notice
from rearbuild.recover.planscript import render, write
from rearbuild.state import required


def main(ctx: Context) -> None:
    plan = required(ctx.state.recover_plan, "the disk plan")
    if ctx.recover.show_plan:
        sys.stdout.write(render(plan, ctx.paths.disk_plan_done))
        sys.stdout.flush()
        ctx.state.stop_after_plan = True
        notice("the disk plan is printed above; nothing was changed")
        return
    if ctx.recover.demo:
        for step in plan.steps:
            notice("demo, not done: %s", step.description)
        return
    path = write(plan, ctx.paths.disk_plan, ctx.paths.disk_plan_done)
    notice("disk plan of %d steps written to %s", len(plan.steps), path)
