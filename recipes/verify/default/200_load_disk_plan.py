"""Load the layout to recreate (the saved one, or $CONFIG_DIR/disklayout.conf, which turns on migration mode),
map disks, and build the disk plan; a component nothing can create stops here, before any disk is touched."""

from __future__ import annotations

from pathlib import Path

from rearbuild.context import Context
from rearbuild.layout.exclude import ExclusionSettings
from rearbuild.recover.mountplan import mount_plan
from rearbuild.recover.recreate import load, make_plan


def main(ctx: Context) -> None:
    if not ctx.options.workflow.recreates_disks:
        return
    source = load(
        ctx.paths.config_dir,
        Path(ctx.text("DISKLAYOUT_FILE")),
        exclusions=ExclusionSettings.from_config(ctx.settings, automatic=False),
    )
    ctx.state.recover_layout = source.layout
    ctx.state.device_mappings = source.renamed
    # Saved LVM metadata describes the original disks: used only when the layout is recreated as saved (and
    # never by mountonly, which only opens what is there).
    mounts_only = ctx.options.workflow.mounts_only
    lvm_dir = None if source.migration or mounts_only else ctx.paths.layout_dir / "lvm"
    plan = make_plan(source.layout, ctx.recover.target_root, lvm_dir)
    ctx.state.recover_plan = mount_plan(plan) if mounts_only else plan
    if source.migration and ctx.tristate("MIGRATION_MODE") is not False:
        ctx.set("MIGRATION_MODE", "true")
