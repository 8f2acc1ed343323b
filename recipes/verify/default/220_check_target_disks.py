"""Every disk the plan writes exists, is large enough, is not the rescue medium, not the disk holding the
backup and not in use. A disk whose size is not the saved one turns on migration mode (ReaR's
250_compare_disks). With --plan or --demo nothing is written, so problems are only shown."""

from __future__ import annotations

from rearbuild.context import Context
from rearbuild.errors import UserError
from rearbuild.log import notice
from rearbuild.recover.disks import Devices, block_devices, target_problems
from rearbuild.state import required


def main(ctx: Context) -> None:
    if not ctx.options.workflow.recreates_disks:
        return
    plan = required(ctx.state.recover_plan, "the disk plan")
    layout = required(ctx.state.recover_layout, "the disk layout")
    found = target_problems(
        plan, layout, Devices(block_devices()), iso_volid=ctx.text("ISO_VOLID"), backup_url=ctx.text("BACKUP_URL"),
        cmdline=ctx.cmdline.text, strict=ctx.recover.touches_disks,
    )  # fmt: skip
    if found.problems:
        raise UserError(
            "the disks cannot be recreated: " + "; ".join(found.problems),
            hint="attach a suitable disk, or map the layout onto other disks in "
            f"{ctx.paths.config_dir}/mappings/disk_mappings ('<old disk> <new disk>' per line)",
        )
    if found.sizes_differ and ctx.tristate("MIGRATION_MODE") is None:
        notice("migration mode: %s", "; ".join(found.sizes_differ))
        ctx.set("MIGRATION_MODE", "true")
