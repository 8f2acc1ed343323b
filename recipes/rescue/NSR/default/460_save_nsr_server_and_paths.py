"""BACKUP=NSR: the NetWorker server and this client's save sets (savefs -p) are recorded for the recovery
(ReaR: rescue/NSR/default/460_save_nsr_server_name.sh, 470_safe_filesystems.sh)."""

from __future__ import annotations

from rearbuild.backup.nsr import record, settings
from rearbuild.context import Context


def main(ctx: Context) -> None:
    record(settings(ctx.settings), ctx.paths.recovery_dir)
