"""BACKUP=BLOCKCLONE: the partition table when the partition is missing, then the image onto
BLOCKCLONE_SOURCE_DEV, or into a file in the --demo directory (ReaR: restore/BLOCKCLONE/default/
390_create_partitions.sh, 400_restore_clone.sh)."""

from __future__ import annotations

from rearbuild.backup.blockclone import restore, settings
from rearbuild.context import Context
from rearbuild.log import notice


def main(ctx: Context) -> None:
    s = settings(ctx.settings)
    if ctx.recover.show_plan or ctx.state.stop_after_plan:
        notice("restore: would write the image of %s onto it", s.source_dev)
        return
    notice("restored the image onto %s", restore(s, ctx.recover, ctx.mount_dir))
