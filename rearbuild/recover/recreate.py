"""The disk side of `rearbuild recover`, shared by the verify, layout/prepare and layout/recreate recipes:
which layout to recreate (the saved one, or a disklayout.conf in the configuration directory, which turns on
migration mode), onto which disks ($CONFIG_DIR/mappings/disk_mappings), the plan, and where it is written.

Results the recipes pass on (ctx.results):
  recover_plan       the Plan (rearbuild.recover.plan)
  recover_layout     the Layout it was built from (after mappings and exclusions)
  stop_after_plan    True when `recover --plan` printed the plan: every later recipe returns at once
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from rearbuild.context import Context
from rearbuild.errors import InternalError, UserError
from rearbuild.layout.disklayout import read_layout
from rearbuild.layout.exclude import ExclusionSettings, apply_exclusions
from rearbuild.layout.model import Disk, Layout
from rearbuild.log import notice
from rearbuild.recover.mapping import map_disks, parse_mapping
from rearbuild.recover.options import recover_options
from rearbuild.recover.plan import DEFAULT_SECTOR_SIZE, Plan, build_plan

log = logging.getLogger("rearbuild.recover.recreate")

PLAN = "recover_plan"
LAYOUT = "recover_layout"
STOP_AFTER_PLAN = "stop_after_plan"
# ReaR's user-provided mapping files (study §5.2 item 3, 300_map_disks.sh; doc/mappings/disk_devices.example).
_MAPPING_FILES = ("mappings/disk_mappings", "mappings/disk_devices")


def recreates_disks(ctx: Context) -> bool:
    """Whether this run recreates disks (recover does; restoreonly restores into what is mounted)."""
    return ctx.options.workflow == "recover"


def stopped(ctx: Context) -> bool:
    """True after `recover --plan` printed the plan: later recipes return without doing anything."""
    return ctx.results.get(STOP_AFTER_PLAN) is True


def plan_of(ctx: Context) -> Plan:
    plan = ctx.results.get(PLAN)
    if not isinstance(plan, Plan):
        raise InternalError("the disk plan is used before verify built it")
    return plan


def layout_of(ctx: Context) -> Layout:
    layout = ctx.results.get(LAYOUT)
    if not isinstance(layout, Layout):
        raise InternalError("the disk layout is used before verify loaded it")
    return layout


@dataclass(frozen=True)
class Source:
    layout: Layout
    migration: bool
    why: str


def load(ctx: Context) -> Source:
    """The layout to recreate, with disk mappings and EXCLUDE_RECREATE/ONLY_INCLUDE_VG applied."""
    override = ctx.paths.config_dir / "disklayout.conf"
    saved = Path(ctx.text("DISKLAYOUT_FILE"))
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
            f"disklayout.conf into {ctx.paths.config_dir}",
        )
    for name in _MAPPING_FILES:
        path = ctx.paths.config_dir / name
        if path.is_file():
            mapping = parse_mapping(path.read_text())
            layout = map_disks(layout, mapping)
            notice("disks mapped by %s: %s", path, ", ".join(f"{a} -> {b}" for a, b in mapping.items()))
            reasons.append(f"{path} maps disks")
            break
    settings = ExclusionSettings(
        autoexclude_disks=False,
        autoexclude_multipath=False,
        autoexclude_path=(),
        exclude_recreate=ctx.items("EXCLUDE_RECREATE"),
        only_include_vg=ctx.items("ONLY_INCLUDE_VG"),
    )
    layout = apply_exclusions(layout, settings)
    return Source(layout, bool(reasons), "; ".join(reasons))


def migration_mode(ctx: Context, automatic: bool) -> bool:
    """MIGRATION_MODE: true/false as the user set it, else what the layout and the disks say."""
    text = ctx.text("MIGRATION_MODE").strip().lower()
    if text in ("true", "y", "yes", "1"):
        return True
    if text in ("false", "n", "no", "0"):
        return False
    return automatic


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


def make_plan(ctx: Context, layout: Layout) -> Plan:
    options = recover_options(ctx)
    return build_plan(layout, target_root=str(options.target_root), sector_sizes=sector_sizes(layout))


def script_path(ctx: Context) -> Path:
    """Where the plan is written before recreate runs it (ReaR's diskrestore.sh)."""
    return ctx.paths.layout_dir / "diskrestore.sh"


def done_dir(ctx: Context) -> Path:
    return ctx.paths.recovery_dir / "plan-done"
