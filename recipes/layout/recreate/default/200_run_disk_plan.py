"""Run the disk plan (or the edited --plan-file) with bash; every command and its output go to the log.
In demo mode no disk is touched: the target directory stands in for the mounted file systems."""

from __future__ import annotations

from rearbuild.context import Context
from rearbuild.log import notice
from rearbuild.recover.planscript import execute


def main(ctx: Context) -> None:
    if ctx.state.stop_after_plan:
        return
    if not ctx.recover.touches_disks:
        ctx.recover.target_root.mkdir(parents=True, exist_ok=True)
        notice("demo: no disk recreated; the system is restored into %s", ctx.recover.target_root)
        return
    script = ctx.recover.plan_file or ctx.paths.disk_plan
    notice("recreating the disks with %s", script)
    execute(script, ctx.paths.disk_plan_done)
