"""Publish the results the container build made (recipes/output/default/950_copy_result_files.py, whose stage
`build --container` does not run): to OUTPUT_URL/OUTPUT_PREFIX with a sha256 file and the log, as a host build."""

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
