"""POST_RECOVERY_SCRIPT and POST_RECOVERY_COMMANDS at the very end of a recovery in the rescue system, with the
recovered system at $TARGET_FS_ROOT (ReaR: wrapup/default/500_post_recovery_script.sh)."""

from __future__ import annotations

from rearbuild.context import Context
from rearbuild.recover.hooks import hooks_after, run_hooks, skipped_in_demo


def main(ctx: Context) -> None:
    if ctx.state.stop_after_plan:
        return
    hooks = hooks_after(ctx.items("POST_RECOVERY_SCRIPT"), ctx.settings.elements("POST_RECOVERY_COMMANDS"))
    if ctx.recover.demo:
        skipped_in_demo(hooks)
    elif ctx.recover.touches_disks:
        run_hooks(hooks, target_root=ctx.recover.target_root)
