"""Programs (PROGS, REQUIRED_PROGS, the tools the saved layout needs, executables of COPY_AS_IS) and their
libraries. A missing required program stops here, before anything is built."""

from __future__ import annotations

import logging

from rearbuild.collect.programs import collect_programs
from rearbuild.collect.records import maker_for
from rearbuild.context import Context

log = logging.getLogger("rearbuild.collect")


def layout_tools(ctx: Context) -> tuple[str, ...]:
    """The programs recreating the saved layout needs (the recipe that saves it publishes them)."""
    tools = ctx.results.get("layout_tools", ())
    return tuple(str(t) for t in tools)


def main(ctx: Context) -> None:
    required = (*ctx.items("REQUIRED_PROGS"), *layout_tools(ctx))
    result = collect_programs(
        ctx.items("PROGS"), required, ctx.items("LIBS"), tuple(ctx.results.get("executables", ())), maker_for(ctx)
    )
    for name in result.missing:
        log.info("program %s (PROGS) is not on this host", name)
    for unresolved in result.unresolved:
        log.warning("%s needs %s: %s", unresolved.requester, unresolved.soname, unresolved.detail)
    ctx.results.setdefault("records", []).extend(result.records)
    ctx.results["programs_missing"] = result.missing
    ctx.results["libraries_unresolved"] = tuple(f"{u.requester}: {u.soname}" for u in result.unresolved)
