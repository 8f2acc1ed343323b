"""Programs (PROGS, REQUIRED_PROGS, the executables of COPY_AS_IS and the Python runtime) and their libraries.
A missing required program stops here, before anything is built."""

from __future__ import annotations

import logging

from rearbuild.collect.programs import collect_programs
from rearbuild.context import Context

log = logging.getLogger("rearbuild.collect")


def main(ctx: Context) -> None:
    result = collect_programs(
        ctx.items("PROGS"),
        ctx.items("REQUIRED_PROGS"),
        ctx.items("LIBS"),
        tuple(ctx.state.executables),
        ctx.record_maker(),
    )
    if result.missing:  # one line: a shared PROGS list names many programs a given host lacks
        log.info("%d programs of PROGS are not on this host: %s", len(result.missing), " ".join(result.missing))
    for unresolved in result.unresolved:
        log.warning("%s needs %s: %s", unresolved.requester, unresolved.soname, unresolved.detail)
    ctx.state.records.extend(result.records)
    ctx.state.programs_missing = tuple(result.missing)
    ctx.state.libraries_unresolved = tuple(f"{u.requester}: {u.soname}" for u in result.unresolved)
