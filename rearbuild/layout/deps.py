"""The dependency graph of a disk layout and the order in which recovery creates its components.

This follows ReaR's generate_layout_dependencies() (study §2.4): every record that is created on its own is
a *component* with ReaR's name for it (a device, `pv:<dev>`, `fs:<mountpoint>`, `swap:<dev>`, ...), and
every `child -> parent` edge says the child can only be created once the parent exists. The creation order
is ReaR's loop: repeatedly take the first component in file order whose parents are all done.

Differences from ReaR, on purpose: a component whose parent the layout does not describe, and a cycle, are
errors here, where ReaR would silently leave them undone ("No code has been generated", study §7.2 item 7).
Multipath slaves are the exception: they are paths the hardware provides, never created.
"""

from __future__ import annotations

from dataclasses import dataclass

from rearbuild.errors import UserError
from rearbuild.layout.model import Entry, Keyword, Layout, RaidDisk, Record
from rearbuild.layout.spec.base import Mount, Neighbours
from rearbuild.layout.spec.registry import spec_of


@dataclass(frozen=True)
class Component:
    name: str
    # The `<type>` column of ReaR's disktodo.conf, which is the record's keyword.
    type: Keyword
    entry: Entry

    @property
    def record(self) -> Record:
        return self.entry.record

    @property
    def excluded(self) -> bool:
        return self.entry.excluded

    @property
    def mountpoint(self) -> str | None:
        """Where it is mounted, for the components that nest by mount point."""
        return spec_of(self.record).mountpoint(self.record)

    @property
    def is_mount(self) -> bool:
        return self.mountpoint is not None


def component_of(record: Record) -> tuple[str, Keyword] | None:
    """ReaR's component name and type for a record; None for records created as part of another one
    (the btrfs subvolume lists, created with their file system) or kept only as information."""
    name = spec_of(record).component(record)
    keyword = record.keyword
    return None if name is None or keyword is None else (name, keyword)


@dataclass(frozen=True)
class DependencyGraph:
    """Components in file order and `(child, parent)` edges, like ReaR's disktodo.conf/diskdeps.conf."""

    components: tuple[Component, ...]
    edges: tuple[tuple[str, str], ...]
    # Parents that need not be components (multipath slaves).
    external: frozenset[str]
    source: str = "disklayout.conf"

    def get(self, name: str) -> Component | None:
        for component in self.components:
            if component.name == name:
                return component
        return None

    def parents(self, name: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p for c, p in self.edges if c == name))

    def children(self, name: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c for c, p in self.edges if p == name))

    def dependents(self, name: str) -> frozenset[str]:
        """Everything that depends on `name`, directly or through others (not `name` itself)."""
        found: set[str] = set()
        todo = [name]
        while todo:
            for child in self.children(todo.pop()):
                if child not in found and child != name:
                    found.add(child)
                    todo.append(child)
        return frozenset(found)

    def deps_conf(self) -> str:
        """The graph as ReaR's diskdeps.conf (`<child> <parent>` per line), for logs and debugging."""
        return "".join(f"{c} {p}\n" for c, p in self.edges)


def build_graph(layout: Layout) -> DependencyGraph:
    """The dependency graph of every record of the layout, excluded ones included."""
    components: dict[str, Component] = {}
    for entry in layout.entries:
        named = component_of(entry.record)
        if named is None:
            continue
        name, ctype = named
        previous = components.get(name)
        if previous is not None:
            if previous.excluded or entry.excluded:
                if previous.excluded and not entry.excluded:
                    components[name] = Component(name, ctype, entry)
                continue
            raise UserError(
                f"{_where(layout.source, entry)}component {name} is described twice"
                + (f" (first on line {previous.entry.line})" if previous.entry.line else ""),
                hint="remove one of the two lines, or re-run `rearbuild savelayout`",
            )
        components[name] = Component(name, ctype, entry)

    around = Neighbours(
        names=frozenset(components),
        raiddisks=frozenset(c.record.device for c in components.values() if isinstance(c.record, RaidDisk)),
        mounts=tuple(Mount(c.name, c.type, c.mountpoint) for c in components.values() if c.mountpoint is not None),
    )
    edges: list[tuple[str, str]] = []
    external: set[str] = set()
    for component in components.values():
        spec = spec_of(component.record)
        edges.extend(spec.edges(component.name, component.record, around))
        external.update(spec.external(component.record))
    return DependencyGraph(
        components=tuple(components.values()),
        edges=tuple(dict.fromkeys(edges)),
        external=frozenset(external),
        source=layout.source,
    )


def _where(source: str, entry: Entry) -> str:
    return f"{source}:{entry.line}: " if entry.line is not None else f"{source}: "


def creation_order(layout: Layout, graph: DependencyGraph | None = None) -> tuple[Component, ...]:
    """The active components in the order recovery creates them.

    Among the components whose parents are done, the first in file order goes next (ReaR's 540 loop).
    Excluded components count as done, as in ReaR (their trees are excluded with them).
    Raises UserError when a component depends on something the layout does not describe, or on a cycle.
    """
    graph = graph or build_graph(layout)
    todo = [c for c in graph.components if not c.excluded]
    done = {c.name for c in graph.components if c.excluded} | set(graph.external)
    known = {c.name for c in graph.components}
    parents = {c.name: graph.parents(c.name) for c in todo}
    for component in todo:
        missing = [p for p in parents[component.name] if p not in known and p not in graph.external]
        if missing:
            raise UserError(
                f"{_where(graph.source, component.entry)}{component.name} needs {', '.join(missing)}, "
                "which the disk layout does not describe",
                hint="add the missing record, exclude the component (EXCLUDE_RECREATE), "
                "or re-run `rearbuild savelayout`",
            )
    order: list[Component] = []
    while todo:
        ready = next((c for c in todo if all(p in done for p in parents[c.name])), None)
        if ready is None:
            waiting = "; ".join(
                f"{c.name} waits for {', '.join(p for p in parents[c.name] if p not in done)}" for c in todo
            )
            raise UserError(
                f"{graph.source}: the disk layout has a dependency cycle: {waiting}",
                hint="correct the device names in the layout file, or re-run `rearbuild savelayout`",
            )
        order.append(ready)
        done.add(ready.name)
        todo.remove(ready)
    return tuple(order)
