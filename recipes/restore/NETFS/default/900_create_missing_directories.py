"""BACKUP=NETFS: recreate the mount points and top-level directories the archive did not contain, with their
recorded modes and owners (ReaR: restore/default/900_create_missing_directories.sh)."""

from __future__ import annotations

from rearbuild.backup.netfs import recreate_directories
from rearbuild.context import Context


def main(ctx: Context) -> None:
    if ctx.recover.show_plan or ctx.state.stop_after_plan:
        return
    recreate_directories(ctx.state.restored_directories, ctx.recover.target_root, ctx.state.restored_includes)
