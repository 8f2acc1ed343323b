"""Save the metadata of the layout's volume groups beside disklayout.conf (ReaR: $VAR_DIR/layout/lvm/<vg>.cfg),
for recovery to restore them with their UUIDs and extents. checklayout compares and saves nothing."""

from __future__ import annotations

from rearbuild.collect.disk import lvmmeta
from rearbuild.context import Context
from rearbuild.layout.model import LvmGrp
from rearbuild.state import required
from rearbuild.workflow import Workflow


def main(ctx: Context) -> None:
    if ctx.options.workflow is Workflow.CHECKLAYOUT:
        return
    layout = required(ctx.state.layout, "the captured layout")
    vgs = [r.vg_name for r in layout.active if isinstance(r, LvmGrp)]
    lvmmeta.save(vgs, ctx.paths.layout_dir / "lvm", ctx.tmp_dir / "lvm-metadata")
