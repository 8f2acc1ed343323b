"""checklayout's verdict (ReaR: layout/compare/default/500_compare_layout.sh): exit status 1 when the current
layout differs from the saved one, or when there is no saved layout; 0 when they are the same."""

from __future__ import annotations

import logging
from pathlib import Path

from rearbuild.collect.disk.save import difference, short
from rearbuild.context import Context
from rearbuild.log import notice
from rearbuild.state import required

log = logging.getLogger("rearbuild.recipes.compare_layout")


def main(ctx: Context) -> None:
    current = required(ctx.state.layout_file, "the current layout (layout/save)")
    saved = Path(ctx.text("DISKLAYOUT_FILE"))
    if not saved.is_file():
        notice("no saved disk layout at %s: run 'rearbuild savelayout' or 'rearbuild mkrescue' first", saved)
        ctx.state.exit_status = 1
        return
    diff = difference(saved.read_text(encoding="utf-8", errors="replace"), current.read_text(encoding="utf-8"))
    if diff:
        log.info("layout difference:\n%s", "\n".join(diff))
        notice("the disk layout changed since it was saved in %s:\n%s", saved, short(diff))
    else:
        log.info("the disk layout is unchanged")  # cron mails what is printed: nothing when nothing changed
    ctx.state.exit_status = 1 if diff else 0
