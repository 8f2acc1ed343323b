"""ReaR's exclusions applied to a disk layout (study §2.4 "Exclusions", §3 defaults).

Each rule picks components and excludes them together with everything that depends on them; excluded
records stay in the layout as `#keyword ...` lines, exactly as ReaR comments them out. The rules run in
ReaR's order: EXCLUDE_RECREATE and ONLY_INCLUDE_VG (310_include_exclude), then AUTOEXCLUDE_PATH,
AUTOEXCLUDE_MULTIPATH and AUTOEXCLUDE_DISKS (320_autoexclude), so that a disk whose only file system was
excluded by path is excluded as unused.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace

from rearbuild.config.model import Config
from rearbuild.layout.deps import DependencyGraph, build_graph
from rearbuild.layout.model import Entry, Item, Keyword, Layout, LvmDev, LvmGrp
from rearbuild.layout.spec.registry import spec_of

log = logging.getLogger("rearbuild.layout.exclude")

# Block devices whose content lives elsewhere: in a file (loop), on the network (nbd), in memory (ram, zram).
# They are no disks of the system (ReaR's disk scan leaves them out too), so recovery cannot recreate them;
# the image file behind a loop device is restored with the backup like any other file.
_VIRTUAL = re.compile(r"^/dev/(loop|nbd|ram|zram)[0-9]+(p[0-9]+)?$")


@dataclass(frozen=True)
class ExclusionSettings:
    """The exclusion variables of ReaR's default.conf, with ReaR's defaults."""

    # AUTOEXCLUDE_DISKS=y: disks no mounted file system or active swap uses.
    autoexclude_disks: bool = True
    # AUTOEXCLUDE_MULTIPATH=y: multipath devices (for boot from SAN set it to n).
    autoexclude_multipath: bool = True
    # AUTOEXCLUDE_PATH=( /media /run /mnt /tmp ): mounts at or below these paths.
    autoexclude_path: tuple[str, ...] = ("/media", "/run", "/mnt", "/tmp")
    # EXCLUDE_RECREATE=( "fs:/backup" "/dev/vg" ... ): component names.
    exclude_recreate: tuple[str, ...] = ()
    # ONLY_INCLUDE_VG=( vg00 ): when not empty, every other volume group is excluded.
    only_include_vg: tuple[str, ...] = ()
    # EXCLUDE_COMPONENTS=( "fs:/var/cache" "/dev/system" ): ReaR's older name of EXCLUDE_RECREATE, same meaning.
    exclude_components: tuple[str, ...] = ()
    # EXCLUDE_MD=( md0 ) and EXCLUDE_VG=( vgdata ): RAID arrays and volume groups by name ("/dev/" optional).
    exclude_md: tuple[str, ...] = ()
    exclude_vg: tuple[str, ...] = ()
    # EXCLUDE_MOUNTPOINTS=( /data ): these file systems are still recreated (empty: ReaR 2.7 keeps them, fstab
    # may name them) but are not backed up, and a disk only they use is no reason to keep the disk.
    exclude_mountpoints: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config: Config, *, automatic: bool = True) -> ExclusionSettings:
        """The variables of the effective configuration. automatic=False leaves the AUTOEXCLUDE_* rules out:
        recovery applies only what the user names (the saved layout has the automatic ones already)."""
        return cls(
            autoexclude_disks=automatic and config.flag("AUTOEXCLUDE_DISKS"),
            autoexclude_multipath=automatic and config.flag("AUTOEXCLUDE_MULTIPATH"),
            autoexclude_path=config.items("AUTOEXCLUDE_PATH") if automatic else (),
            exclude_recreate=config.items("EXCLUDE_RECREATE"),
            only_include_vg=config.items("ONLY_INCLUDE_VG"),
            exclude_components=config.items("EXCLUDE_COMPONENTS"),
            exclude_md=config.items("EXCLUDE_MD"),
            exclude_vg=config.items("EXCLUDE_VG"),
            exclude_mountpoints=tuple(m.rstrip("/") or "/" for m in config.items("EXCLUDE_MOUNTPOINTS")),
        )

    def named(self) -> tuple[tuple[str, str], ...]:
        """(variable, component name) of every component excluded by name, in ReaR's order (310_include_exclude:
        EXCLUDE_MD, EXCLUDE_VG, EXCLUDE_COMPONENTS, EXCLUDE_RECREATE)."""
        return (
            *(("EXCLUDE_MD", _dev(md)) for md in self.exclude_md),
            *(("EXCLUDE_VG", _dev(vg)) for vg in self.exclude_vg),
            *(("EXCLUDE_COMPONENTS", c) for c in self.exclude_components),
            *(("EXCLUDE_RECREATE", c) for c in self.exclude_recreate),
        )


def _dev(name: str) -> str:
    """ReaR prepends /dev/ to EXCLUDE_MD and EXCLUDE_VG names; its own examples give them with /dev/: both work."""
    return "/dev/" + name.removeprefix("/dev/").lstrip("/")


def _under(path: str, mountpoint: str) -> bool:
    base = path.rstrip("/") or "/"
    return mountpoint == base or base == "/" or mountpoint.startswith(base + "/")


def excluded_components(layout: Layout, settings: ExclusionSettings, graph: DependencyGraph) -> set[str]:
    """The names of the components the settings exclude (including those excluded already)."""
    excluded = {c.name for c in graph.components if c.excluded}

    def exclude_tree(name: str) -> None:
        excluded.add(name)
        excluded.update(graph.dependents(name))

    for variable, name in settings.named():
        if graph.get(name) is None:
            log.warning("%s names %s, which is not in the disk layout", variable, name)
            continue
        exclude_tree(name)

    if settings.only_include_vg:
        wanted = {vg.removeprefix("/dev/") for vg in settings.only_include_vg}
        for component in graph.components:
            if isinstance(component.record, LvmGrp) and component.record.vg_name not in wanted:
                exclude_tree(component.name)

    for component in graph.components:
        mountpoint = component.mountpoint
        if mountpoint is not None and any(_under(path, mountpoint) for path in settings.autoexclude_path):
            exclude_tree(component.name)

    if settings.autoexclude_multipath:
        for component in graph.components:
            if component.type is Keyword.MULTIPATH:
                exclude_tree(component.name)

    if settings.autoexclude_disks:
        for component in graph.components:
            if component.type not in (Keyword.DISK, Keyword.MULTIPATH):
                continue
            used = any(
                (user := graph.get(name)) is not None
                and spec_of(user.record).user
                and name not in excluded
                and user.mountpoint not in settings.exclude_mountpoints
                for name in graph.dependents(component.name)
            )
            if not used:
                exclude_tree(component.name)

    # A volume group that is not recreated needs no physical volumes either (ReaR comments out its lvmdev
    # lines with the lvmgrp line).
    for component in graph.components:
        if isinstance(component.record, LvmGrp) and component.name in excluded:
            for parent in graph.parents(component.name):
                pv = graph.get(parent)
                if pv is not None and isinstance(pv.record, LvmDev):
                    excluded.add(parent)
    return excluded


def apply_exclusions(layout: Layout, settings: ExclusionSettings) -> Layout:
    """A new layout in which every record the settings exclude is commented out."""
    graph = build_graph(layout)
    excluded = excluded_components(layout, settings, graph)
    by_entry = {id(c.entry): c.name for c in graph.components}
    items: list[Item] = []
    for item in layout.items:
        if isinstance(item, Entry) and not item.excluded:
            name = by_entry.get(id(item))
            # A record that is no component (the btrfs subvolume lists) goes with the one it is created with.
            owner = name if name is not None else spec_of(item.record).created_with(item.record)
            if owner is not None and owner in excluded:
                item = replace(item, excluded=True)
        items.append(item)
    return replace(layout, items=tuple(items))


def exclude_virtual(layout: Layout) -> tuple[Layout, tuple[str, ...]]:
    """The layout with every active component that sits on a loop, nbd, ram or zram device the layout does not
    describe (a loop-mounted image, swap on zram) excluded with its dependents, and the names of those
    components. Without this the saved layout names a device nothing provides, and recovery refuses it."""
    graph = build_graph(layout)
    known = {c.name for c in graph.components}
    found = tuple(
        c.name
        for c in graph.components
        if not c.excluded and any(_VIRTUAL.match(p) and p not in known for p in graph.parents(c.name))
    )
    if not found:
        return layout, ()
    only = ExclusionSettings(autoexclude_disks=False, autoexclude_multipath=False, autoexclude_path=(),
                             exclude_recreate=found)  # fmt: skip
    return apply_exclusions(layout, only), found
