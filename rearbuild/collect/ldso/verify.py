"""Checking a composed rootfs: every dynamic ELF file in it finds its libraries inside it."""

from __future__ import annotations

from collections.abc import Mapping

from rearbuild.collect.elf import ElfError
from rearbuild.collect.ldso.caps import LoaderCaps
from rearbuild.collect.ldso.closure import Unresolved
from rearbuild.collect.ldso.mapped import ImageLink, MappedTree
from rearbuild.collect.ldso.resolver import Resolver


def verify_rootfs(entries: Mapping[str, str | ImageLink], *, caps: LoaderCaps | None = None) -> tuple[Unresolved, ...]:
    """Every DT_NEEDED (and program interpreter) of every dynamic ELF file in a composed rootfs that ld.so
    could not resolve inside it. `entries` maps image paths to host source files or ImageLinks.
    This is ReaR's 990_verify_rootfs.sh (ldd in a chroot) without a chroot."""
    tree = MappedTree(entries)
    resolver = Resolver(tree, caps=caps, dlopen=False)
    unresolved: dict[Unresolved, None] = {}
    for path, entry in sorted(tree.entries.items()):
        if isinstance(entry, ImageLink):
            continue
        try:
            info = tree.elf(path)
        except ElfError as exc:
            unresolved.setdefault(Unresolved(path, "", exc.message))
            continue
        if info is None or not info.is_dynamic:
            continue
        for missing in resolver.closure([path]).unresolved:
            unresolved.setdefault(missing)
    return tuple(unresolved)
