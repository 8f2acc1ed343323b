"""Publish the results (ReaR: output/default/950_copy_result_files.sh): copy them with a sha256 file and the
build log to OUTPUT_URL/OUTPUT_PREFIX (an empty OUTPUT_URL takes a file:// BACKUP_URL, as in ReaR). Without either
they stay where they were built, with the sha256. The work is rearbuild.output.publish."""

from __future__ import annotations

from pathlib import Path

from rearbuild.context import Context
from rearbuild.output.publish import publish


def main(ctx: Context) -> None:
    publish(
        [*ctx.state.result_files, *(Path(p) for p in ctx.items("RESULT_FILES"))],
        output_url=ctx.text("OUTPUT_URL"),
        backup_url=ctx.text("BACKUP_URL"),
        prefix=ctx.text("OUTPUT_PREFIX"),
        known=ctx.state.result_digests,
        log_file=ctx.log_file,
    )
