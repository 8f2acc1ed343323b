"""The recovery log goes into the recovered system (ReaR: wrapup/default/990_copy_logfile.sh), so that what was
done to its disks is on record there."""

from __future__ import annotations

from rearbuild.context import Context
from rearbuild.log import copy_log_below, notice


def main(ctx: Context) -> None:
    target = ctx.recover.target_root
    if ctx.state.stop_after_plan or ctx.log_file is None or not ctx.log_file.exists() or not target.is_dir():
        return
    name = f"{'demo-' if ctx.recover.demo else ''}recover-{ctx.facts.hostname}.log"
    # Resolved inside the target: the restored system's own links (var/log -> /x) lead to its /x, not ours.
    copied = copy_log_below(ctx.log_file, target, f"var/log/rear/{name}")
    if copied is not None:
        notice("recovery log: %s", copied)
