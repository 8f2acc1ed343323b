"""COPY_AS_IS into the rescue image, with COPY_AS_IS_EXCLUDE and the private-key rule."""

from __future__ import annotations

import logging

from rearbuild.collect.files import copy_as_is
from rearbuild.collect.records import maker_for
from rearbuild.context import Context

log = logging.getLogger("rearbuild.collect")


def main(ctx: Context) -> None:
    allow_keys = ctx.text("SSH_UNPROTECTED_PRIVATE_KEYS").strip().lower() in ("y", "yes", "true", "1")
    result = copy_as_is(
        ctx.items("COPY_AS_IS"), ctx.items("COPY_AS_IS_EXCLUDE"), maker_for(ctx), allow_unprotected_keys=allow_keys
    )
    for path in result.skipped_keys:
        log.warning("left out %s: a private key without passphrase (SSH_UNPROTECTED_PRIVATE_KEYS=no)", path)
    for entry in result.missing:
        log.info("COPY_AS_IS %s: nothing on this host", entry)
    ctx.results.setdefault("records", []).extend(result.records)
    ctx.results["executables"] = result.executables
