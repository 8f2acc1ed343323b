"""The rules that keep the shape (DESIGN.md), checked on the source: the library does not know the run, and
recipes are glue."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from rearbuild.paths import PACKAGE_DIR, default_share_dir

LIBRARY = ("collect", "layout", "build", "output", "backup", "recover")
# The run: what a recipe sees. The library takes plain, typed arguments instead.
RUN_MODULES = ("rearbuild.context", "rearbuild.workflow", "rearbuild.state", "rearbuild.engine", "rearbuild.recipe",
               "rearbuild.cli")  # fmt: skip
RECIPE_LINES = 45  # "about 25 lines, no logic of its own" (DESIGN.md); the longest glue today is ~40


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _library_files() -> list[Path]:
    return sorted(p for package in LIBRARY for p in (PACKAGE_DIR / package).rglob("*.py"))


def _recipes() -> list[Path]:
    return sorted((default_share_dir() / "recipes").rglob("*.py"))


def test_the_checks_see_the_code() -> None:
    # a moved package must not make the rules below pass vacuously
    assert len(_library_files()) > 50
    assert len(_recipes()) > 30


@pytest.mark.parametrize("path", _library_files(), ids=lambda p: str(p.relative_to(PACKAGE_DIR)))
def test_the_library_does_not_know_the_run(path: Path) -> None:
    offending = sorted(
        name for name in _imports(path) if any(name == m or name.startswith(m + ".") for m in RUN_MODULES)
    )
    assert not offending, f"{path} imports {offending}: pass plain, typed arguments from the recipe instead"


@pytest.mark.parametrize("path", _recipes(), ids=lambda p: str(p.relative_to(default_share_dir())))
def test_recipes_are_glue(path: Path) -> None:
    tree = ast.parse(path.read_text(), str(path))
    functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)]
    assert functions == ["main"], f"{path} defines {functions}: logic belongs in the library, with tests"
    lines = len(path.read_text().splitlines())
    assert lines <= RECIPE_LINES, f"{path} has {lines} lines: move its logic into the library"


# What only building or publishing needs. The rescue system's Python carries none of them (rearbuild.collect.python
# leaves them out), yet it loads the whole package and every recipe of the stages it runs (prep too, for
# mkbackuponly in the rescue system): so nothing may import them when it is loaded, only when it is used.
BUILD_HOST_ONLY = ("pefile", "boto3", "botocore", "docker")


def test_nothing_needs_a_build_host_library_to_be_loaded() -> None:
    blocked = ";".join(f"sys.modules[{name!r}] = None" for name in BUILD_HOST_ONLY)
    code = f"""
import importlib, importlib.util, pkgutil, sys
{blocked}
import rearbuild
for info in pkgutil.walk_packages(rearbuild.__path__, "rearbuild."):
    if not info.name.endswith("__main__"):
        importlib.import_module(info.name)
for path in sys.argv[1:]:
    spec = importlib.util.spec_from_file_location("recipe", path)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
"""
    recipes = sorted(str(p) for p in (default_share_dir() / "recipes").rglob("*.py"))
    result = subprocess.run([sys.executable, "-c", code, *recipes], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_shipped_data_holds_no_symlinks() -> None:
    # A wheel cannot hold a symlink (it stores the target's bytes): a container build's share directory would
    # then differ from the checkout's, and so would the rescue image made from it.
    top = Path(__file__).resolve().parents[2]
    links = [str(p.relative_to(top)) for part in ("recipes", "skel", "images", "conf") for p in (top / part).rglob("*")
             if p.is_symlink()]  # fmt: skip
    assert not links, f"symlinks in shipped data: {links}"
