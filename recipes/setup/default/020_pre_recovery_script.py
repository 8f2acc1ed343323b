"""PRE_RECOVERY_COMMANDS and PRE_RECOVERY_SCRIPT at the very start of a recovery in the rescue system, before any
disk is touched (ReaR: setup/default/010_pre_recovery_script.sh)."""

from __future__ import annotations

from rearbuild.context import Context
from rearbuild.recover.hooks import hooks_before, run_hooks, skipped_in_demo


def main(ctx: Context) -> None:
    hooks = hooks_before(ctx.settings.elements("PRE_RECOVERY_COMMANDS"), ctx.items("PRE_RECOVERY_SCRIPT"))
    if ctx.recover.demo:
        skipped_in_demo(hooks)
    elif ctx.recover.touches_disks:
        run_hooks(hooks, target_root=ctx.recover.target_root)
