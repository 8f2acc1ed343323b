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

import enum
from collections.abc import Iterator
from dataclasses import dataclass

from rearbuild.errors import UserError
from rearbuild.layout.model import (
    BtrfsMountedSubvol,
    Crypt,
    Disk,
    Drbd,
    Entry,
    Fs,
    Keyword,
    Layout,
    LvmDev,
    LvmGrp,
    LvmVol,
    Multipath,
    Part,
    RaidArray,
    RaidDisk,
    Record,
    Swap,
    Verbatim,
)


class ComponentType(enum.Enum):
    """The `<type>` column of ReaR's disktodo.conf."""

    DISK = "disk"
    PART = "part"
    RAIDDISK = "raiddisk"
    RAIDARRAY = "raidarray"
    MULTIPATH = "multipath"
    LVMDEV = "lvmdev"
    LVMGRP = "lvmgrp"
    LVMVOL = "lvmvol"
    CRYPT = "crypt"
    DRBD = "drbd"
    FS = "fs"
    BTRFSMOUNTEDSUBVOL = "btrfsmountedsubvol"
    SWAP = "swap"
    OPALDISK = "opaldisk"
    SMARTARRAY = "smartarray"
    LOGICALDRIVE = "logicaldrive"

    @property
    def is_mount(self) -> bool:
        """Components that are mounted somewhere and so nest by mount point."""
        return self in (ComponentType.FS, ComponentType.BTRFSMOUNTEDSUBVOL)


@dataclass(frozen=True)
class Component:
    name: str
    type: ComponentType
    entry: Entry

    @property
    def record(self) -> Record:
        return self.entry.record

    @property
    def excluded(self) -> bool:
        return self.entry.excluded


def component_of(record: Record) -> tuple[str, ComponentType] | None:
    """ReaR's component name and type for a record; None for records created as part of another one
    (the btrfs subvolume lists, created with their file system) or kept only as information."""
    match record:
        case Disk():
            return record.device, ComponentType.DISK
        case Part():
            return record.device, ComponentType.PART
        case RaidDisk():
            return f"raiddisk:{record.device}", ComponentType.RAIDDISK
        case RaidArray():
            return record.device, ComponentType.RAIDARRAY
        case Multipath():
            return record.device, ComponentType.MULTIPATH
        case LvmDev():
            return f"pv:{record.device}", ComponentType.LVMDEV
        case LvmGrp():
            return record.vg, ComponentType.LVMGRP
        case LvmVol():
            return record.mapper_device, ComponentType.LVMVOL
        case Crypt():
            return record.device, ComponentType.CRYPT
        case Drbd():
            return record.device, ComponentType.DRBD
        case Fs():
            return f"fs:{record.mountpoint}", ComponentType.FS
        case BtrfsMountedSubvol():
            return f"btrfsmountedsubvol:{record.mountpoint}", ComponentType.BTRFSMOUNTEDSUBVOL
        case Swap():
            return f"swap:{record.device}", ComponentType.SWAP
        case Verbatim() if record.fields:
            match record.keyword:
                case Keyword.OPALDISK:
                    return f"opaldisk:{record.fields[0]}", ComponentType.OPALDISK
                case Keyword.SMARTARRAY:
                    return f"smartarray:{record.fields[0]}", ComponentType.SMARTARRAY
                case Keyword.LOGICALDRIVE:
                    return f"logicaldrive:{record.fields[0]}", ComponentType.LOGICALDRIVE
    return None


def _is_below(parent: str, mountpoint: str) -> bool:
    """Whether `parent` is a proper ancestor directory of `mountpoint` (/home is not below /ho)."""
    if parent == mountpoint:
        return False
    return parent == "/" or mountpoint.startswith(parent.rstrip("/") + "/")


def _mountpoint(record: Record) -> str | None:
    return record.mountpoint if isinstance(record, Fs | BtrfsMountedSubvol) else None


def _slave_device(slave: str) -> str:
    # ReaR writes multipath slaves as kernel names (sda,sdb); the disk components are /dev paths.
    return slave if slave.startswith("/") else f"/dev/{slave}"


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

    edges: list[tuple[str, str]] = []
    external: set[str] = set()
    raiddisks = {c.record.device for c in components.values() if isinstance(c.record, RaidDisk)}
    mounts = [c for c in components.values() if c.type.is_mount]
    for component in components.values():
        edges.extend(_edges(component, raiddisks, mounts, components, external))
    return DependencyGraph(
        components=tuple(components.values()),
        edges=tuple(dict.fromkeys(edges)),
        external=frozenset(external),
        source=layout.source,
    )


def _edges(
    component: Component,
    raiddisks: set[str],
    mounts: list[Component],
    components: dict[str, Component],
    external: set[str],
) -> Iterator[tuple[str, str]]:
    name = component.name
    record = component.record
    match record:
        case Disk():
            # An OPAL self-encrypting disk is unlocked (opaldisk) before its partition table is written.
            if f"opaldisk:{record.device}" in components:
                yield name, f"opaldisk:{record.device}"
            if f"logicaldrive:{record.device}" in components:
                yield name, f"logicaldrive:{record.device}"
        case Part():
            yield name, record.disk
            if record.disk in raiddisks:
                yield name, f"raiddisk:{record.disk}"
        case RaidDisk():
            yield name, record.device
        case RaidArray():
            for member in record.devices:
                yield name, member
        case Multipath():
            for slave in record.slaves:
                device = _slave_device(slave)
                external.add(device)
                yield name, device
        case LvmDev():
            yield record.vg, name
            yield name, record.device
        case LvmVol():
            yield name, record.vg
            if record.thinpool is not None:
                pool = LvmVol(vg=record.vg, name=record.thinpool, size=0).mapper_device
                yield name, pool
        case Crypt():
            yield name, record.source
        case Drbd():
            yield name, record.source
        case Swap():
            yield name, record.device
        case Fs() | BtrfsMountedSubvol():
            yield name, record.device
            mountpoint = record.mountpoint
            for other in mounts:
                other_mp = _mountpoint(other.record)
                if other is component or other_mp is None:
                    continue
                # Nested mounts come after the file systems they are mounted on; a mounted btrfs
                # subvolume also needs the btrfs file system mounted at the same place.
                same_place = (
                    other_mp == mountpoint
                    and other.type is ComponentType.FS
                    and component.type is ComponentType.BTRFSMOUNTEDSUBVOL
                )
                if _is_below(other_mp, mountpoint) or same_place:
                    yield name, other.name
        case Verbatim():
            if component.type is ComponentType.LOGICALDRIVE and len(record.fields) > 1:
                slot = record.fields[1].split("|")[0]
                if f"smartarray:{slot}" in components:
                    yield name, f"smartarray:{slot}"


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
