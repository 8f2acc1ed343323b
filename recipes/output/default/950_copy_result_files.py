"""Publish the results (ReaR: output/default/950_copy_result_files.sh): copy them with a sha256 file and the
build log to OUTPUT_URL/OUTPUT_PREFIX (an empty OUTPUT_URL takes a file:// BACKUP_URL, as in ReaR), or send them
with their sha256 and a metadata document to an artifact store (s3://, http(s)://, oci://). Without either they
stay where they were built, with the sha256. Their list is kept for `rearbuild publish`. The work is
rearbuild.output.publish."""

from __future__ import annotations

from pathlib import Path

from rearbuild.context import Context
from rearbuild.output.publish import LATEST, destination, publish, record_latest
from rearbuild.output.stores.metadata import Provenance
from rearbuild.url import Scheme


def main(ctx: Context) -> None:
    provenance = Provenance.of(ctx.state.manifest, host=ctx.text("HOSTNAME"), epoch=ctx.epoch)
    backup = ctx.text("BACKUP_URL")
    files = [*ctx.state.result_files, *(Path(p) for p in ctx.items("RESULT_FILES"))]
    publish(
        files,
        output_url=ctx.text("OUTPUT_URL"),
        backup_url=ctx.text("BACKUP_URL"),
        prefix=ctx.text("OUTPUT_PREFIX"),
        known=ctx.state.result_digests,
        log_file=ctx.log_file,
        provenance=provenance,
        s3_endpoint=ctx.text("S3_ENDPOINT_URL"),
        keep_old=bool(ctx.text("KEEP_OLD_OUTPUT_COPY").strip()),
        protect=destination(backup, "", ctx.text("NETFS_PREFIX")) if Scheme.of(backup) is Scheme.FILE else None,
    )
    if files:
        record_latest(ctx.paths.var_dir / LATEST, files, provenance)
