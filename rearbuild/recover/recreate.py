"""The disk side of `rearbuild recover`, shared by the verify, layout/prepare and layout/recreate recipes:
which layout to recreate (the saved one, or a disklayout.conf in the configuration directory, which turns on
migration mode), onto which disks ($CONFIG_DIR/mappings/disk_mappings), and the plan.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rearbuild.errors import UserError
from rearbuild.layout.disklayout import read_layout
from rearbuild.layout.exclude import ExclusionSettings, apply_exclusions
from rearbuild.layout.model import Disk, Layout
from rearbuild.layout.validate import validate
from rearbuild.log import notice
from rearbuild.recover.mapping import device_names, map_disks, parse_mapping
from rearbuild.recover.plan import DEFAULT_SECTOR_SIZE, Plan, build_plan

log = logging.getLogger("rearbuild.recover.recreate")

# ReaR's user-provided mapping files (study §5.2 item 3, 300_map_disks.sh; doc/mappings/disk_devices.example).
_MAPPING_FILES = ("mappings/disk_mappings", "mappings/disk_devices")


@dataclass(frozen=True)
class Source:
    layout: Layout
    migration: bool
    why: str
    renamed: dict[str, str] = field(default_factory=dict)  # old -> new device names (disks and partitions)


def load(
    config_dir: Path,
    saved: Path,
    *,
    exclude_recreate: Sequence[str] = (),
    only_include_vg: Sequence[str] = (),
    exclusions: ExclusionSettings | None = None,
) -> Source:
    """The layout to recreate, with disk mappings and the named exclusions applied (EXCLUDE_RECREATE and
    ONLY_INCLUDE_VG, or all of `exclusions`: EXCLUDE_MD, EXCLUDE_VG, EXCLUDE_COMPONENTS too). saved is
    DISKLAYOUT_FILE; a disklayout.conf in config_dir replaces it. A UserError (file:line) when the layout
    as a whole cannot be recreated (rearbuild.layout.validate)."""
    override = config_dir / "disklayout.conf"
    reasons: list[str] = []
    if override.is_file():
        layout = read_layout(override)
        notice("using %s instead of the saved layout (migration mode)", override)
        reasons.append(f"{override} replaces the saved layout")
    elif saved.is_file():
        layout = read_layout(saved)
    else:
        raise UserError(
            f"there is no disk layout to recreate: neither {saved} nor {override} exists",
            hint="build the rescue image on the original system (rearbuild image saves the layout), or put a "
            f"disklayout.conf into {config_dir}",
        )
    renamed: dict[str, str] = {}
    for name in _MAPPING_FILES:
        path = config_dir / name
        if path.is_file():
            mapping = parse_mapping(path.read_text())
            renamed = device_names(layout, mapping)
            layout = map_disks(layout, mapping)
            notice("disks mapped by %s: %s", path, ", ".join(f"{a} -> {b}" for a, b in mapping.items()))
            reasons.append(f"{path} maps disks")
            break
    settings = exclusions or ExclusionSettings(
        autoexclude_disks=False,
        autoexclude_multipath=False,
        autoexclude_path=(),
        exclude_recreate=tuple(exclude_recreate),
        only_include_vg=tuple(only_include_vg),
    )
    layout = apply_exclusions(layout, settings)
    # The whole layout is checked before a plan exists: a bad one would fail after the disks were wiped.
    validate(layout, sector_sizes=sector_sizes(layout))
    return Source(layout, bool(reasons), "; ".join(reasons), renamed)


def sector_sizes(layout: Layout) -> dict[str, int]:
    """Logical sector sizes of the layout's disks present here (the kernel's, /sys/block/X/queue)."""
    sizes: dict[str, int] = {}
    for record in layout.active:
        if not isinstance(record, Disk):
            continue
        name = Path(record.device).resolve().name
        path = Path("/sys/class/block") / name / "queue" / "logical_block_size"
        try:
            sizes[record.device] = int(path.read_text().strip())
        except (OSError, ValueError):
            sizes[record.device] = DEFAULT_SECTOR_SIZE
    return sizes


def make_plan(layout: Layout, target_root: Path, lvm_dir: Path | None = None) -> Plan:
    """The plan for this machine's disks, mounting under target_root. lvm_dir: where savelayout put each
    volume group's metadata (<vg>.cfg), to restore volume groups with every UUID and extent where it was;
    None in migration mode, where disks and sizes may differ from what the metadata describes."""

    def metadata(vg: str) -> str | None:
        path = lvm_dir / f"{vg}.cfg" if lvm_dir is not None else None
        return str(path) if path is not None and path.is_file() else None

    return build_plan(layout, target_root=str(target_root), sector_sizes=sector_sizes(layout), lvm_metadata=metadata)
