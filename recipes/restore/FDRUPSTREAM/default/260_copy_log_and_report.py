"""BACKUP=FDRUPSTREAM: the restore's logs and reports go into the restored system
(ReaR: restore/FDRUPSTREAM/default/260_copy_log_and_report.sh)."""

from __future__ import annotations

from rearbuild.backup.fdrupstream import copy_logs, settings
from rearbuild.context import Context


def main(ctx: Context) -> None:
    if ctx.recover.show_plan or ctx.state.stop_after_plan:
        return
    copy_logs(settings(ctx.settings), ctx.recover.target_root)
