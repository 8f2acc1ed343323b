"""The rules that keep the shape (DESIGN.md), checked on the source: the library does not know the run, and
recipes are glue."""

from __future__ import annotations

import ast
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
