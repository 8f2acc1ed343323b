"""Ask before destroying: in migration mode, confirm the plan (USER_INPUT_LAYOUT_CODE_CONFIRMATION); when a
target disk holds data, confirm wiping it (USER_INPUT_WIPE_DISKS_CONFIRMATION). Unattended answers yes."""

from __future__ import annotations

from rearbuild.context import Context
from rearbuild.errors import UserError
from rearbuild.recover.disks import Devices, block_devices, holding_data
from rearbuild.recover.questions import Answers, Question
from rearbuild.state import required


def main(ctx: Context) -> None:
    if ctx.state.stop_after_plan or not ctx.recover.touches_disks:
        return
    plan = required(ctx.state.recover_plan, "the disk plan")
    script = ctx.recover.plan_file or ctx.paths.disk_plan
    if not script.is_file():
        raise UserError(f"the plan file {script} does not exist")
    how = f"edit {ctx.paths.disk_plan} and run `rearbuild recover --plan-file FILE`, or abort"
    answers = Answers.from_config(ctx.settings, unattended=ctx.options.non_interactive)
    if ctx.tristate("MIGRATION_MODE"):
        question = f"Recreate the disks with {script} ({len(plan.steps)} steps, writing {', '.join(plan.destroyed)})?"
        if not answers.confirm(Question.LAYOUT_CODE_CONFIRMATION, question):
            raise UserError("the disk plan was not confirmed; nothing was written", hint=how)
    full = holding_data(plan, Devices(block_devices()))
    if full:
        question = f"These disks hold data that will be destroyed: {'; '.join(full)}. Wipe them?"
        if not answers.confirm(Question.WIPE_DISKS_CONFIRMATION, question):
            raise UserError("wiping disks that hold data was not confirmed; nothing was written", hint=how)
