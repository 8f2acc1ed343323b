"""The rescue system's Python: the host's interpreter and the standard-library modules rearbuild needs."""

from __future__ import annotations

from rearbuild.collect.python import find_runtime
from rearbuild.context import Context


def main(ctx: Context) -> None:
    runtime = find_runtime(cache=ctx.paths.cache_dir / "python-runtime.json")
    maker = ctx.record_maker()
    for path in runtime.files:
        ctx.state.records += maker.path(path, f"Python {runtime.version} module for rearbuild")
    # extension modules (.so) need their libraries like any program
    ctx.state.executables.extend(p for p in runtime.files if p.endswith(".so"))
    ctx.state.python = runtime
