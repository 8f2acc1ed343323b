"""The directories of the ld.so cache, emulated by reading /etc/ld.so.conf and its includes as ldconfig does."""

from __future__ import annotations

import os

from rearbuild.collect.ldso.tree import Tree

# ldconfig's include recursion has no limit; this one only stops an include loop.
_MAX_INCLUDE_DEPTH = 16


def ld_so_conf_dirs(tree: Tree, conf: str = "/etc/ld.so.conf") -> tuple[str, ...]:
    """The directories ldconfig puts in the cache, from ld.so.conf and its `include` globs (ldconfig(8));
    a relative include pattern is relative to the including file's directory, as ldconfig does."""
    dirs: dict[str, None] = {}
    _read_conf(tree, conf, dirs, 0)
    return tuple(dirs)


def _read_conf(tree: Tree, conf: str, dirs: dict[str, None], depth: int) -> None:
    text = tree.read_text(conf)
    if text is None or depth > _MAX_INCLUDE_DEPTH:
        return
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        if words[0] == "include" and len(words) > 1:
            for pattern in words[1:]:
                if not pattern.startswith("/"):
                    pattern = os.path.dirname(conf) + "/" + pattern
                for path in tree.glob(pattern):
                    _read_conf(tree, path, dirs, depth + 1)
        elif words[0] == "hwcap":
            continue  # obsolete, ignored by ldconfig since glibc 2.37 and unused on Debian
        else:
            # Old syntax "dir=TYPE" names a library type; ldconfig strips it and trailing slashes.
            directory = line.split("=", 1)[0].strip().rstrip("/") or "/"
            if directory.startswith("/"):
                dirs.setdefault(directory, None)


def looks_like_cached_library(name: str) -> bool:
    """ldconfig only puts files named lib*.so* or ld-*.so* in the cache (elf/ldconfig.c search_dir)."""
    return (name.startswith("lib") or name.startswith("ld-")) and ".so" in name
