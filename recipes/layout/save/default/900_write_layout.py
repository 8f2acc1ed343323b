"""Write disklayout.conf and its companion files (ReaR: layout/save/default/*). checklayout writes into the
build directory instead and leaves the saved layout untouched, for layout/compare."""

from __future__ import annotations

from pathlib import Path

from rearbuild.collect.disk.capture import Capture
from rearbuild.collect.disk.save import write
from rearbuild.context import Context
from rearbuild.errors import InternalError
from rearbuild.layout.model import Layout
from rearbuild.log import notice
from rearbuild.workflow import Workflow


def main(ctx: Context) -> None:
    layout = ctx.results.get("layout")
    captured = ctx.results.get("layout_capture")
    if not isinstance(layout, Layout) or not isinstance(captured, Capture):
        raise InternalError("layout/save: no layout was captured before 900_write_layout")
    if Workflow.parse(ctx.options.workflow) is Workflow.CHECKLAYOUT:
        current = ctx.tmp_dir / "checklayout" / "disklayout.conf"
        ctx.results["layout_file"] = write(layout, captured, current, None).layout_file
        return
    target = Path(ctx.text("DISKLAYOUT_FILE"))
    written = write(layout, captured, target, ctx.paths.var_dir)
    ctx.results["layout_file"] = written.layout_file
    notice("disk layout saved to %s", written.layout_file)
