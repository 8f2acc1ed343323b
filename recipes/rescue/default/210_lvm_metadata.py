"""The saved LVM metadata (layout/save) into the rescue image, where recovery's plan restores it from."""

from __future__ import annotations

from rearbuild.collect.disk.lvmmeta import IMAGE_DIR
from rearbuild.context import Context


def main(ctx: Context) -> None:
    maker = ctx.record_maker()
    for path in sorted((ctx.paths.layout_dir / "lvm").glob("*.cfg")):
        records = maker.placed(str(path), f"{IMAGE_DIR}/{path.name}", "LVM metadata (vgcfgbackup)", 0o600)
        ctx.state.records.extend(records)
