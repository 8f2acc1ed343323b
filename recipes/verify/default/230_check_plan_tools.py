"""The programs the disk plan runs are present, and an unattended recovery needs no passphrase typed."""

from __future__ import annotations

import logging

from rearbuild.context import Context
from rearbuild.errors import UserError
from rearbuild.recover.disks import plan_tool_problems
from rearbuild.state import required

log = logging.getLogger("rearbuild.recipes.verify")


def main(ctx: Context) -> None:
    if not ctx.options.workflow.recreates_disks:
        return
    plan = required(ctx.state.recover_plan, "the disk plan")
    problems = plan_tool_problems(plan, unattended=ctx.options.non_interactive)
    if problems and ctx.recover.touches_disks:
        raise UserError(
            "; ".join(problems),
            hint="add the programs to PROGS and rebuild the rescue image; for LUKS, name a key file present in "
            "the rescue system (keyfile= in disklayout.conf, COPY_AS_IS for the file)",
        )
    for problem in problems:
        log.warning("%s", problem)
