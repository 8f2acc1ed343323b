"""BACKUP=DP: the client certificates, which Data Protector does not back up, go from the rescue image into the
restored system (ReaR: finalize/DP/default/500_restore_ssc.sh)."""

from __future__ import annotations

from rearbuild.backup.dp import copy_certificates, settings
from rearbuild.context import Context


def main(ctx: Context) -> None:
    if ctx.recover.show_plan or ctx.state.stop_after_plan:
        return
    copy_certificates(settings(ctx.settings), ctx.recover.target_root)
