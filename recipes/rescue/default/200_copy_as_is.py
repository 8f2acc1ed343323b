"""COPY_AS_IS into the rescue image, with COPY_AS_IS_EXCLUDE and the private-key rule."""

from __future__ import annotations

import logging

from rearbuild.collect.files import copy_as_is
from rearbuild.context import Context

log = logging.getLogger("rearbuild.collect")


def main(ctx: Context) -> None:
    allow_keys = ctx.flag("SSH_UNPROTECTED_PRIVATE_KEYS")
    result = copy_as_is(
        ctx.items("COPY_AS_IS"), ctx.items("COPY_AS_IS_EXCLUDE"), ctx.record_maker(), allow_unprotected_keys=allow_keys
    )
    for path in result.skipped_keys:
        log.warning("left out %s: a private key without passphrase (SSH_UNPROTECTED_PRIVATE_KEYS=no)", path)
    for entry in result.missing:
        log.info("COPY_AS_IS %s: nothing on this host", entry)
    ctx.state.records.extend(result.records)
    ctx.state.executables.extend(result.executables)
