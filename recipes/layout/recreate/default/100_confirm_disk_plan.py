"""Ask before destroying: in migration mode, confirm the plan (USER_INPUT_LAYOUT_CODE_CONFIRMATION); when a
target disk holds data, confirm wiping it (USER_INPUT_WIPE_DISKS_CONFIRMATION). Unattended answers yes."""

from __future__ import annotations

from rearbuild.context import Context
from rearbuild.errors import UserError
from rearbuild.recover.disks import Devices, block_devices, holding_data
from rearbuild.recover.options import recover_options
from rearbuild.recover.questions import Question, confirm
from rearbuild.recover.recreate import plan_of, script_path, stopped


def main(ctx: Context) -> None:
    options = recover_options(ctx)
    if stopped(ctx) or not options.touches_disks:
        return
    plan = plan_of(ctx)
    script = options.plan_file or script_path(ctx)
    if not script.is_file():
        raise UserError(f"the plan file {script} does not exist")
    how = f"edit {script_path(ctx)} and run `rearbuild recover --plan-file FILE`, or abort"
    if ctx.text("MIGRATION_MODE").strip().lower() == "true":
        question = f"Recreate the disks with {script} ({len(plan.steps)} steps, writing {', '.join(plan.destroyed)})?"
        if not confirm(ctx, Question.LAYOUT_CODE_CONFIRMATION, question):
            raise UserError("the disk plan was not confirmed; nothing was written", hint=how)
    full = holding_data(plan, Devices(block_devices()))
    if full:
        question = f"These disks hold data that will be destroyed: {'; '.join(full)}. Wipe them?"
        if not confirm(ctx, Question.WIPE_DISKS_CONFIRMATION, question):
            raise UserError("wiping disks that hold data was not confirmed; nothing was written", hint=how)
