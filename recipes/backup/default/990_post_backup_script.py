"""POST_BACKUP_SCRIPT after the backup (ReaR: backup/default/990_post_backup_script.sh, RemoveExitTask)."""

from __future__ import annotations

from rearbuild.backup.scripts import POST, run_script
from rearbuild.context import Context


def main(ctx: Context) -> None:
    ctx.state.exit_tasks.pop(POST, None)
    run_script(POST, ctx.items(POST))
