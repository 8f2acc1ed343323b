"""After the plan: every file system of the layout is mounted under the target root (ReaR's 250_verify_mount)."""

from __future__ import annotations

import os

from rearbuild.context import Context
from rearbuild.errors import UserError
from rearbuild.log import notice
from rearbuild.recover.options import recover_options
from rearbuild.recover.recreate import plan_of, stopped


def main(ctx: Context) -> None:
    options = recover_options(ctx)
    if stopped(ctx) or not options.touches_disks:
        return
    mounts = plan_of(ctx).mounts
    missing = [f"{device} at {target}" for device, target in mounts if not os.path.ismount(target)]
    if missing:
        raise UserError(
            "the disk plan ran, yet these file systems are not mounted: " + "; ".join(missing),
            hint="mount them by hand (the rescue shell), then run `rearbuild restoreonly`",
        )
    notice("%d file systems mounted under %s", len(mounts), options.target_root)
