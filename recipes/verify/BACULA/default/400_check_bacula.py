"""BACKUP=BACULA: the volume reads (bls), or bacula-fd runs and the director reaches it, before layout/recreate
touches a disk (ReaR: verify/BACULA/default/; it finds a missing director only in the restore stage)."""

from __future__ import annotations

from rearbuild.backup.bacula import settings, verify
from rearbuild.context import Context


def main(ctx: Context) -> None:
    verify(settings(ctx.settings), interactive=ctx.interactive)
