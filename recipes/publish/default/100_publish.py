"""`rearbuild publish URL [FILE...]`: send results with their sha256 and a metadata document to an artifact store
(without FILE: the results of this host's last build, as the output stage recorded them). The work is
rearbuild.output.publish and rearbuild.output.stores."""

from __future__ import annotations

from pathlib import Path

from rearbuild.context import Context
from rearbuild.log import notice
from rearbuild.output.publish import LATEST, read_latest, store_url, to_store
from rearbuild.output.stores.metadata import Provenance


def main(ctx: Context) -> None:
    args = ctx.options.workflow.parse_arguments(ctx.options.args)
    url = store_url(args.url)
    if args.files:
        files = [Path(f) for f in args.files]
        provenance = Provenance.of(None, host=ctx.text("HOSTNAME"), epoch=ctx.epoch)
    else:
        files, provenance = read_latest(ctx.paths.var_dir / LATEST)
    location = to_store(url, files, provenance, prefix=ctx.text("OUTPUT_PREFIX"),
                        s3_endpoint=ctx.text("S3_ENDPOINT_URL"))  # fmt: skip
    notice("fetch it with: rearbuild fetch %s", location)
