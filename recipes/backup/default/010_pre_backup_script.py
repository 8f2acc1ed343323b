"""PRE_BACKUP_SCRIPT before the backup; from here on POST_BACKUP_SCRIPT also runs if the workflow fails
(ReaR: backup/default/010_pre_backup_script.sh, AddExitTask)."""

from __future__ import annotations

from rearbuild.backup.scripts import POST, PRE, run_script
from rearbuild.context import Context


def main(ctx: Context) -> None:
    pre, post = ctx.items(PRE), ctx.items(POST)
    if not any(w.strip() for w in pre):
        return
    ctx.state.exit_tasks[POST] = lambda: run_script(POST, post)
    run_script(PRE, pre)
