"""The recovery log goes into the recovered system (ReaR: wrapup/default/990_copy_logfile.sh), so that what was
done to its disks is on record there."""

from __future__ import annotations

import logging
import shutil

from rearbuild.context import Context
from rearbuild.log import notice
from rearbuild.recover.options import recover_options
from rearbuild.recover.recreate import stopped


def main(ctx: Context) -> None:
    options = recover_options(ctx)
    if stopped(ctx) or ctx.log_file is None or not ctx.log_file.exists():
        return
    destination = options.target_root / "var/log/rear"
    if not options.target_root.is_dir():
        return
    for handler in logging.getLogger("rearbuild").handlers:
        handler.flush()
    destination.mkdir(parents=True, exist_ok=True)
    name = f"recover-{ctx.facts.hostname}.log" if not options.demo else f"demo-recover-{ctx.facts.hostname}.log"
    shutil.copyfile(ctx.log_file, destination / name)
    notice("recovery log: %s", destination / name)
