"""`rearbuild fetch URL [DIR]`: download a published set and verify every file against its sha256 and the
metadata document; a mismatch or a set without metadata is refused. The work is rearbuild.output.stores."""

from __future__ import annotations

from pathlib import Path

from rearbuild.context import Context
from rearbuild.log import notice
from rearbuild.output.publish import store_url
from rearbuild.output.stores import fetch_set, open_store


def main(ctx: Context) -> None:
    args = ctx.options.workflow.parse_arguments(ctx.options.args)
    store = open_store(store_url(args.url), s3_endpoint=ctx.text("S3_ENDPOINT_URL"))
    metadata = fetch_set(store, Path(args.directory))
    p = metadata.provenance
    notice("fetched %d file(s) of host %s (kernel %s, rearbuild %s, manifest %s, SOURCE_DATE_EPOCH %d) into %s",
           len(metadata.files), p.host, p.kernel, p.rearbuild_version, p.manifest_sha256[:12] or "-",
           p.source_date_epoch, args.directory)  # fmt: skip
