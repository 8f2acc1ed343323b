"""BACKUP=REQUESTRESTORE: wait for an operator to restore the files into the target by hand
(ReaR: restore/REQUESTRESTORE/default/200_prompt_user_to_start_restore.sh)."""

from __future__ import annotations

from rearbuild.backup.requestrestore import request_restore
from rearbuild.context import Context


def main(ctx: Context) -> None:
    request_restore(ctx.recover, interactive=ctx.interactive)
