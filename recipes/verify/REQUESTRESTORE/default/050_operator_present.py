"""BACKUP=REQUESTRESTORE: the restore will need an operator; a non-interactive run stops here, before
layout/recreate empties the disks (ReaR finds out only in the restore stage)."""

from __future__ import annotations

from rearbuild.backup.requestrestore import announce
from rearbuild.context import Context


def main(ctx: Context) -> None:
    if not ctx.options.workflow.restores:  # layoutonly, finalizeonly: no backup is read
        return
    announce(ctx.recover, interactive=ctx.interactive)
