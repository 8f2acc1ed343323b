"""The recovery log goes into the recovered system (ReaR: wrapup/default/990_copy_logfile.sh), so that what was
done to its disks is on record there."""

from __future__ import annotations

from rearbuild.context import Context
from rearbuild.log import copy_log, notice


def main(ctx: Context) -> None:
    target = ctx.recover.target_root
    if ctx.state.stop_after_plan or ctx.log_file is None or not ctx.log_file.exists() or not target.is_dir():
        return
    name = f"{'demo-' if ctx.recover.demo else ''}recover-{ctx.facts.hostname}.log"
    notice("recovery log: %s", copy_log(ctx.log_file, target / "var/log/rear" / name))
