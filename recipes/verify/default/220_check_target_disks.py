"""Every disk the plan writes exists, is large enough, is not the rescue medium, not the disk holding the
backup and not in use. A disk whose size is not the saved one turns on migration mode (ReaR's
250_compare_disks). With --plan or --demo nothing is written, so problems are only shown."""

from __future__ import annotations

import logging
from pathlib import Path

from rearbuild.context import Context
from rearbuild.errors import UserError
from rearbuild.layout.model import Disk
from rearbuild.log import notice
from rearbuild.recover.disks import Devices, block_devices, check_targets, protected_disks, size_differs
from rearbuild.recover.options import recover_options
from rearbuild.recover.recreate import layout_of, migration_mode, plan_of, recreates_disks

log = logging.getLogger("rearbuild.recipes.verify")


def main(ctx: Context) -> None:
    if not recreates_disks(ctx):
        return
    plan = plan_of(ctx)
    options = recover_options(ctx)
    try:
        cmdline = Path("/proc/cmdline").read_text()
    except OSError:
        cmdline = ""
    devices = Devices(block_devices())
    protected = protected_disks(
        devices, iso_volid=ctx.text("ISO_VOLID"), backup_url=ctx.text("BACKUP_URL"), cmdline=cmdline
    )
    for guard in protected:
        log.info("%s is never written: %s", guard.disk, guard.reason)
    problems = check_targets(plan, devices, protected)
    if problems and options.touches_disks:
        raise UserError(
            "the disks cannot be recreated: " + "; ".join(problems),
            hint="attach a suitable disk, or map the layout onto other disks in "
            f"{ctx.paths.config_dir}/mappings/disk_mappings ('<old disk> <new disk>' per line)",
        )
    for problem in problems:
        log.warning("%s (nothing is written now)", problem)
    if options.touches_disks:
        saved = {r.device: r.size for r in layout_of(ctx).active if isinstance(r, Disk)}
        differ = size_differs(plan, saved)
        if differ and migration_mode(ctx, True) and ctx.text("MIGRATION_MODE").strip() == "":
            notice("migration mode: %s", "; ".join(differ))
            ctx.set("MIGRATION_MODE", "true")
