"""What one disklayout.conf keyword means: the single place that says how its line is read and written,
which comments head its group, and which dependency component (ReaR's name, its parents) it is.

The reader and writer (`rearbuild.layout.disklayout`), the dependency graph (`rearbuild.layout.deps`)
and the exclusions (`rearbuild.layout.exclude`) look a record's `RecordSpec` up in
`rearbuild.layout.spec.registry` instead of dispatching on the keyword themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from rearbuild.layout.model import Keyword, Record

R = TypeVar("R", bound=Record)

Edge = tuple[str, str]
"""`(child, parent)`: the child can only be created once the parent exists (ReaR's diskdeps.conf)."""

Group = tuple[tuple[str, ...], tuple[str, ...]]
"""(group key, the comment lines ReaR writes before the first record of that group)."""


@dataclass(frozen=True)
class Mount:
    """A component mounted somewhere (a file system or a mounted btrfs subvolume)."""

    name: str
    keyword: Keyword
    mountpoint: str


@dataclass(frozen=True)
class Neighbours:
    """What a component's edges may refer to: the other components of the same layout."""

    names: frozenset[str]
    # Devices described by a raiddisk record (md devices that carry partitions).
    raiddisks: frozenset[str]
    mounts: tuple[Mount, ...]


def _no_name(record: Any) -> str | None:
    """No such name (no component, no mount point, not created with another component)."""
    return None


def _no_edges(name: str, record: Any, around: Neighbours) -> Iterable[Edge]:
    return ()


def _no_devices(record: Any) -> Iterable[str]:
    return ()


@dataclass(frozen=True)
class RecordSpec(Generic[R]):
    """One keyword's record: its line, its group comments and its place in the dependency graph."""

    # None only for the catch-all of keywords no ReaR version we know writes (kept verbatim).
    keyword: Keyword | None
    # The words after the keyword -> the record; raises FieldError saying what is wrong.
    parse: Callable[[list[str]], R]
    # The record -> its words, the keyword first.
    write: Callable[[R], list[str]]
    # The comment lines above every group of this keyword, when they do not depend on the record.
    comments: tuple[str, ...] = ()
    # (group key, comment lines) for keywords whose groups are per device (e.g. `# Partitions on <disk>`).
    grouping: Callable[[R], Group] | None = None
    # Prefixes of the group comment lines (ours and every ReaR version's), which the reader drops
    # because the writer regenerates them.
    generated: tuple[str, ...] = ()
    # Kept word for word: the model has no typed fields for it.
    verbatim: bool = False
    # ReaR's component name (None for a record created as part of another one, or kept as information).
    component: Callable[[R], str | None] = _no_name
    # (component name, record, the other components) -> the edges ReaR's diskdeps.conf has for it.
    edges: Callable[[str, R, Neighbours], Iterable[Edge]] = _no_edges
    # Parents that need not be components: they are provided by the hardware (multipath slaves).
    external: Callable[[R], Iterable[str]] = _no_devices
    # Where it is mounted, for the components that nest by mount point (file systems, mounted subvolumes).
    mountpoint: Callable[[R], str | None] = _no_name
    # Using it makes its disk "used" for AUTOEXCLUDE_DISKS (mounted file systems and active swap).
    user: bool = False
    # The component a record without its own component is created (and excluded) with.
    created_with: Callable[[R], str | None] = _no_name

    def group(self, record: R) -> Group:
        """The group the record belongs to and the comment lines ReaR writes above it."""
        if self.grouping is not None:
            return self.grouping(record)
        # One group for every record of the keyword (the catch-all spec has a grouping of its own).
        return (self.keyword.value if self.keyword else "",), self.comments
