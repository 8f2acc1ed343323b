"""The rescue system's Python: the host's interpreter and the standard-library modules rearbuild needs."""

from __future__ import annotations

from rearbuild.collect.python import find_runtime
from rearbuild.collect.records import maker_for
from rearbuild.context import Context


def main(ctx: Context) -> None:
    runtime = find_runtime(cache=ctx.paths.cache_dir / "python-runtime.json")
    maker = maker_for(ctx)
    records = []
    for path in runtime.files:
        records += maker.path(path, f"Python {runtime.version} module for rearbuild")
    ctx.results.setdefault("records", []).extend(records)
    # extension modules (.so) need their libraries like any program
    extensions = tuple(p for p in runtime.files if p.endswith(".so"))
    ctx.results["executables"] = (*ctx.results.get("executables", ()), *extensions)
    ctx.results["python"] = runtime
