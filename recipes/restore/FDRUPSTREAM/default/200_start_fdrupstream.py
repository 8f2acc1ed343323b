"""BACKUP=FDRUPSTREAM: start the client in the rescue system
(ReaR: restore/FDRUPSTREAM/default/200_start_fdrupstream.sh)."""

from __future__ import annotations

from rearbuild.backup.fdrupstream import settings, start
from rearbuild.context import Context


def main(ctx: Context) -> None:
    if ctx.recover.show_plan or ctx.state.stop_after_plan:
        return
    start(settings(ctx.settings))
