"""BACKUP=TSM, TSM_RESULT_SAVE=y: the rescue image's files are copied to TSM_RESULT_FILE_PATH and saved with dsmc
(ReaR: output/TSM/default/950_dsmc_save_result_files.sh)."""

from __future__ import annotations

from rearbuild.backup.tsm import save_results, settings
from rearbuild.context import Context


def main(ctx: Context) -> None:
    save_results(settings(ctx.settings), list(ctx.state.result_files), ctx.tmp_dir)
