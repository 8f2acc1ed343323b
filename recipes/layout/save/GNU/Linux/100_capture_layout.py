"""Capture this host's disk layout (ReaR: layout/save/GNU/Linux/100..290), apply the exclusions and refuse
components nothing can recreate. Leaves ctx.state.layout (the Layout to save) and ctx.state.layout_capture (the
raw Capture, for companion files)."""

from __future__ import annotations

from rearbuild.collect.disk.capture import capture_all
from rearbuild.collect.disk.probe import HostProbe
from rearbuild.collect.disk.save import finish, header
from rearbuild.context import Context
from rearbuild.layout.exclude import ExclusionSettings
from rearbuild.log import console_errors_only, notice


def main(ctx: Context) -> None:
    settings = ExclusionSettings.from_config(ctx.settings)
    probe = HostProbe()
    # checklayout (quiet): what the capture warns about was shown by savelayout/mkrescue; the log keeps it
    with console_errors_only(ctx.options.workflow.quiet):
        captured = capture_all(probe)
        for disk in captured.skipped_disks:
            notice("%s is the rescue medium and not part of the disk layout", disk)
        ctx.state.layout = finish(captured, settings, header(probe))
    ctx.state.layout_capture = captured
