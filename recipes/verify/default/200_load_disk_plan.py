"""Load the layout to recreate (the saved one, or $CONFIG_DIR/disklayout.conf, which turns on migration mode),
map disks, and build the disk plan; a component nothing can create stops here, before any disk is touched."""

from __future__ import annotations

from rearbuild.context import Context
from rearbuild.recover.recreate import LAYOUT, PLAN, load, make_plan, migration_mode, recreates_disks


def main(ctx: Context) -> None:
    if not recreates_disks(ctx):
        return
    source = load(ctx)
    ctx.results[LAYOUT] = source.layout
    ctx.results[PLAN] = make_plan(ctx, source.layout)
    if source.migration and migration_mode(ctx, True):
        ctx.set("MIGRATION_MODE", "true")
