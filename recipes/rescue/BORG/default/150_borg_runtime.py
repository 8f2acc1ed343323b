"""BACKUP=BORG: what borg needs in the rescue image besides the program: its Python packages and the
standard-library modules they import (Debian's borg is a Python program), and a keyfile repository's key
(ReaR leaves both to COPY_AS_IS_BORG)."""

from __future__ import annotations

from rearbuild.backup.borg import PYTHON_EXCLUDES, check_installed, keys_directory, python_packages, settings
from rearbuild.collect.python import find_runtime
from rearbuild.context import Context


def main(ctx: Context) -> None:
    s = settings(ctx.settings)
    packages = python_packages(check_installed(s))
    keys = keys_directory(s)
    ctx.add("COPY_AS_IS", *ctx.items("COPY_AS_IS_BORG"), *(str(p) for p in packages), *([str(keys)] if keys else []))
    ctx.add("PROGS", *ctx.items("PROGS_BORG"))
    maker = ctx.record_maker()
    for package in (p for p in packages if (p / "__init__.py").is_file()):
        cache = ctx.paths.cache_dir / f"borg-python-{package.name}.json"
        runtime = find_runtime(package=package, excludes=PYTHON_EXCLUDES, cache=cache)
        for path in runtime.files:
            ctx.state.records += maker.path(path, f"Python {runtime.version} module for borg")
        ctx.state.executables.extend(p for p in runtime.files if p.endswith(".so"))
        ctx.state.executables.extend(str(p) for p in package.rglob("*.so"))
