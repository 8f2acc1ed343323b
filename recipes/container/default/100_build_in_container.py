"""`rearbuild build --container PATH`: build the verified bundle inside the builder environment (the Containerfile)
through the container engine's API (rearbuild.container); its results are published like a host build's."""

from __future__ import annotations

import os
from pathlib import Path

from rearbuild.container import build_bundle, connect, engine_url, ensure_builder, make_wheelhouse
from rearbuild.context import Context
from rearbuild.log import notice


def main(ctx: Context) -> None:
    args = ctx.options.workflow.parse_arguments(ctx.options.args)
    conn = connect(engine_url(args.engine, os.environ))
    notice("container engine: %s %s at %s", conn.engine.value, conn.version, conn.url)
    work = ctx.tmp_dir / "container"
    share = ctx.paths.share_dir
    wheelhouse = Path(args.wheelhouse) if args.wheelhouse else make_wheelhouse(share, work / "wheelhouse")
    builder = ensure_builder(conn, share / "Containerfile", wheelhouse, work)
    results = build_bundle(conn, builder, Path(args.bundle), work, verbose=ctx.options.verbose)
    ctx.state.result_files.extend(results)
    ctx.state.result_digests.update(results)
