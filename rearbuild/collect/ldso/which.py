"""Finding a program on a PATH inside a tree, the way `which` does."""

from __future__ import annotations

from collections.abc import Sequence

from rearbuild.collect.ldso.disk import DiskTree
from rearbuild.collect.ldso.tree import FileKind, Tree


def find_program(name: str, path: Sequence[str], sysroot: str | Tree = "/") -> str | None:
    """Like `which`: the first `dir/name` on path (image directories) that is an executable regular file
    inside sysroot; a name with '/' is checked as it is. Returns the image path, symlinks not followed."""
    tree = sysroot if isinstance(sysroot, Tree) else DiskTree(sysroot)
    candidates = [name] if "/" in name else [d.rstrip("/") + "/" + name for d in path if d.startswith("/")]
    for candidate in candidates:
        r = tree.resolve(candidate)
        if r is not None and r.kind is FileKind.FILE and tree.is_executable(r.real_path):
            return candidate
    return None
