"""The end of a recovery: what the user does next, and for an unattended recovery (kernel option `unattended`)
UNATTENDED_FINISH: reboot into the recovered system (ReaR's behaviour), poweroff, or stay in the shell."""

from __future__ import annotations

from rearbuild.context import Context
from rearbuild.log import notice
from rearbuild.recover.finish import Finish


def main(ctx: Context) -> None:
    if ctx.state.stop_after_plan:
        return
    target = ctx.recover.target_root
    if ctx.recover.demo:
        notice("demo recovery finished: the restored files are in %s; no disk was touched", target)
        return
    notice("recovery finished: the recovered system is mounted at %s", target)
    if not (ctx.recovery_mode and "unattended" in ctx.cmdline):
        notice("check it, then reboot (the rescue medium should not boot first)")
        return
    Finish.parse(ctx.text("UNATTENDED_FINISH")).perform(target)
