"""Run the disk plan (or the edited --plan-file) with bash; every command and its output go to the log.
In demo mode no disk is touched: the target directory stands in for the mounted file systems."""

from __future__ import annotations

from rearbuild.context import Context
from rearbuild.log import notice
from rearbuild.recover.options import recover_options
from rearbuild.recover.planscript import execute
from rearbuild.recover.recreate import done_dir, script_path, stopped


def main(ctx: Context) -> None:
    options = recover_options(ctx)
    if stopped(ctx):
        return
    if not options.touches_disks:
        options.target_root.mkdir(parents=True, exist_ok=True)
        notice("demo: no disk recreated; the system is restored into %s", options.target_root)
        return
    script = options.plan_file or script_path(ctx)
    notice("recreating the disks with %s", script)
    execute(script, done_dir(ctx))
