"""What a closure is made of: the files to carry (and why each one), and the libraries not found."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from rearbuild.collect.ldso.tree import Symlink


class Reason(enum.Enum):
    """Why a file is in the closure."""

    ROOT = "requested"
    INTERPRETER = "program interpreter of"
    NEEDED = "DT_NEEDED of"
    DLOPEN = "dlopen()ed by"
    HWCAPS_VARIANT = "glibc-hwcaps variant of"

    @property
    def via_dlopen(self) -> bool:
        """Not something ld.so (and so ldd) loads at startup."""
        return self in (Reason.DLOPEN, Reason.HWCAPS_VARIANT)

    def describe(self, requester: str | None) -> str:
        return self.value if requester is None else f"{self.value} {requester}"


@dataclass(frozen=True)
class ClosureEntry:
    """One file of the closure: `path` as ld.so names it, `real_path` after symlinks, the symlinks on
    the way, and who asked for it under which name."""

    path: str
    real_path: str
    symlinks: tuple[Symlink, ...]
    reason: Reason
    requester: str | None
    name: str

    @property
    def why(self) -> str:
        return f"{self.name}: {self.reason.describe(self.requester)}"


@dataclass(frozen=True)
class Unresolved:
    """A library `requester` needs that cannot be found (`detail` says how the search failed)."""

    requester: str
    soname: str
    detail: str = "not found"


@dataclass(frozen=True)
class Closure:
    entries: tuple[ClosureEntry, ...]
    unresolved: tuple[Unresolved, ...]

    @property
    def paths(self) -> frozenset[str]:
        return frozenset(e.path for e in self.entries)

    @property
    def real_paths(self) -> frozenset[str]:
        return frozenset(e.real_path for e in self.entries)

    @property
    def symlinks(self) -> tuple[Symlink, ...]:
        """Every symlink to recreate, each once, in first-use order."""
        seen: dict[str, Symlink] = {}
        for entry in self.entries:
            for link in entry.symlinks:
                seen.setdefault(link.path, link)
        return tuple(seen.values())
