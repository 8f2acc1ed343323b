"""Write disklayout.conf and its companion files (ReaR: layout/save/default/*). checklayout writes into the
build directory instead and leaves the saved layout untouched, for layout/compare."""

from __future__ import annotations

from pathlib import Path

from rearbuild.collect.disk.save import write
from rearbuild.context import Context
from rearbuild.log import notice
from rearbuild.state import required
from rearbuild.workflow import Workflow


def main(ctx: Context) -> None:
    layout = required(ctx.state.layout, "the captured layout")
    captured = required(ctx.state.layout_capture, "the layout capture")
    if ctx.options.workflow is Workflow.CHECKLAYOUT:
        current = ctx.tmp_dir / "checklayout" / "disklayout.conf"
        ctx.state.layout_file = write(layout, captured, current, None).layout_file
        return
    written = write(layout, captured, Path(ctx.text("DISKLAYOUT_FILE")), ctx.paths.var_dir)
    ctx.state.layout_file = written.layout_file
    notice("disk layout saved to %s", written.layout_file)
