"""BACKUP=RSYNC: the backup directory on the server answers and is not empty, before layout/recreate touches a
disk (ReaR finds out only in the restore stage)."""

from __future__ import annotations

from rearbuild.backup.rsync import settings, verify
from rearbuild.context import Context


def main(ctx: Context) -> None:
    verify(settings(ctx.settings))
