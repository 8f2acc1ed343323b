"""What `savelayout` (and the layout/save stage of mkrescue, mkbackup and checklayout) does with a capture:
apply ReaR's exclusions, refuse what nothing can recreate, write disklayout.conf with its companion files,
and compare two layouts the way ReaR's checklayout does.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rearbuild.collect.disk.capture import Capture
from rearbuild.collect.disk.filesystems import Unrecreatable
from rearbuild.collect.disk.probe import Probe
from rearbuild.errors import UserError
from rearbuild.layout.deps import build_graph
from rearbuild.layout.disklayout import format_layout, header_lines, require_supported
from rearbuild.layout.exclude import ExclusionSettings, apply_exclusions, exclude_virtual
from rearbuild.layout.model import Fs, Layout
from rearbuild.layout.validate import validate
from rearbuild.log import notice

# ReaR's header listing (layout/save/GNU/Linux/100_create_layout_file.sh), then its fallback for an lsblk
# without MOUNTPOINTS (util-linux < 2.37), then the bare tree.
_LSBLK_HEADERS = (
    ("lsblk", "-ipo", "NAME,KNAME,PKNAME,TRAN,TYPE,FSTYPE,LABEL,SIZE,MOUNTPOINTS,UUID,PARTUUID,WWN"),
    ("lsblk", "-ipo", "NAME,KNAME,PKNAME,TRAN,TYPE,FSTYPE,LABEL,SIZE,MOUNTPOINT,UUID,WWN"),
    ("lsblk", "-i"),
)
# The at-most number of diff lines checklayout shows; the whole diff is in the log.
_DIFF_LINES = 40


def header(probe: Probe, now: float | None = None) -> tuple[str, ...]:
    stamp = time.strftime("%Y%m%d%H%M%S", time.localtime(now))
    listing = next((out for argv in _LSBLK_HEADERS if (out := probe.command(argv)) is not None), "")
    return header_lines(stamp, listing)


def _excluded_by_user(problem: Unrecreatable, settings: ExclusionSettings) -> bool:
    if problem.component in {name for _, name in settings.named()}:
        return True
    for path in settings.autoexclude_path:
        base = path.rstrip("/") or "/"
        if problem.mountpoint == base or problem.mountpoint.startswith(base + "/"):
            return True
    return False


def finish(capture: Capture, settings: ExclusionSettings, head: Sequence[str] = ()) -> Layout:
    """The layout to save: exclusions applied; a UserError naming whatever is needed but not recreatable."""
    problems = [p for p in capture.unrecreatable if not _excluded_by_user(p, settings)]
    if problems:
        listing = "; ".join(p.describe() for p in problems)
        names = " ".join(f'"{p.component}"' for p in problems)
        raise UserError(
            f"mounted file systems that rearbuild cannot recreate: {listing}",
            hint=f"if the recovery does not need them, add EXCLUDE_RECREATE+=( {names} ) to local.conf",
        )
    layout, virtual = exclude_virtual(apply_exclusions(capture.layout, settings))
    for name in virtual:
        notice("%s is on a loop, nbd, ram or zram device, which recovery cannot recreate: it is excluded from "
               "the disk layout (a loop device's image file is restored with the backup)", name)  # fmt: skip
    require_supported(layout)
    # What recovery would refuse is refused now, while the system it describes still runs.
    validate(layout)
    return Layout(items=layout.items, header=tuple(head), source=layout.source)


@dataclass(frozen=True)
class Written:
    layout_file: Path
    companions: tuple[Path, ...]


def write(layout: Layout, capture: Capture, layout_file: Path, var_dir: Path | None) -> Written:
    """Write disklayout.conf; with var_dir also ReaR's companion files that recovery reads:
    recovery/mountpoint_device, layout/diskdeps.conf and layout/xfs/<device>.xfs."""
    layout_file.parent.mkdir(parents=True, exist_ok=True)
    layout_file.write_text(format_layout(layout), encoding="utf-8")
    if var_dir is None:
        return Written(layout_file, ())
    written: list[Path] = []
    recovery = var_dir / "recovery"
    recovery.mkdir(parents=True, exist_ok=True)
    mountpoints = recovery / "mountpoint_device"
    # ReaR's format: `<mountpoint> <device>` for every file system that is recreated (backup includes).
    mountpoints.write_text("".join(f"{r.mountpoint} {r.device}\n" for r in layout.active if isinstance(r, Fs)))
    written.append(mountpoints)
    deps = layout_file.parent / "diskdeps.conf"
    deps.write_text(build_graph(layout).deps_conf())
    written.append(deps)
    xfs_dir = layout_file.parent / "xfs"
    for device, info in sorted(capture.xfs_info.items()):
        xfs_dir.mkdir(exist_ok=True)
        # ReaR names the file after the device with the directories dropped (230_filesystem_layout.sh).
        path = xfs_dir / (device.removeprefix("/dev/").replace("/", "-") + ".xfs")
        path.write_text(info)
        written.append(path)
    return Written(layout_file, tuple(written))


def records_of(text: str) -> list[str]:
    """The lines checklayout compares: every line that is not a comment, sorted (ReaR ignores the header,
    the group comments and excluded components)."""
    return sorted(line for line in text.splitlines() if line.strip() and not line.startswith("#"))


def difference(saved: str, current: str) -> list[str]:
    """A unified diff of the compared lines; empty when the layouts are the same."""
    return list(
        difflib.unified_diff(records_of(saved), records_of(current), "saved layout", "current layout", lineterm="")
    )


def short(diff: list[str]) -> str:
    shown = diff[:_DIFF_LINES]
    more = len(diff) - len(shown)
    return "\n".join(shown) + (f"\n... {more} more lines in the log" if more > 0 else "")
