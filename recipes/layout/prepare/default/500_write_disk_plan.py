"""Write the disk plan as $VAR_DIR/layout/diskrestore.sh; `recover --plan` prints it instead and stops the
workflow cleanly (ctx.results["stop_after_plan"]), `--demo` only lists what would be done."""

from __future__ import annotations

import sys

from rearbuild.context import Context
from rearbuild.log import notice
from rearbuild.recover.options import recover_options
from rearbuild.recover.planscript import render, write
from rearbuild.recover.recreate import STOP_AFTER_PLAN, done_dir, plan_of, script_path


def main(ctx: Context) -> None:
    plan = plan_of(ctx)
    options = recover_options(ctx)
    if options.show_plan:
        sys.stdout.write(render(plan, done_dir(ctx)))
        sys.stdout.flush()
        ctx.results[STOP_AFTER_PLAN] = True
        notice("the disk plan is printed above; nothing was changed")
        return
    if options.demo:
        for step in plan.steps:
            notice("demo, not done: %s", step.description)
        return
    path = write(plan, script_path(ctx), done_dir(ctx))
    notice("disk plan of %d steps written to %s", len(plan.steps), path)
