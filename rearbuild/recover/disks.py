"""Safety checks on the disks a plan writes, before anything is written (ReaR's layout/prepare 250_compare_disks
and the lessons of study §7.2 items 7-8): every target exists and is large enough, and is neither the rescue
medium, nor the disk holding the backup, nor in use; which targets already hold data.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rearbuild.errors import UserError
from rearbuild.layout.model import Disk, Layout
from rearbuild.recover.plan import Plan, TargetDisk
from rearbuild.run import CommandError, run
from rearbuild.url import Reach, Url, Use

log = logging.getLogger("rearbuild.recover.disks")

# ReaR's label of the data partition on a USB rescue medium (format workflow, study §4.5).
RESCUE_DATA_LABEL = "REAR-000"
_LSBLK = ("lsblk", "--json", "--list", "--bytes", "--paths", "--output",
          "NAME,PKNAME,TYPE,FSTYPE,LABEL,PTTYPE,SIZE,MOUNTPOINT")  # fmt: skip


@dataclass(frozen=True)
class BlockDevice:
    name: str
    parent: str | None
    type: str
    fstype: str | None
    label: str | None
    pttype: str | None
    size: int
    mountpoint: str | None


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def parse_lsblk(text: str) -> tuple[BlockDevice, ...]:
    try:
        rows = json.loads(text)["blockdevices"]
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"cannot read the output of lsblk: {exc}") from None
    return tuple(
        BlockDevice(
            name=str(row["name"]),
            parent=_text(row.get("pkname")),
            type=str(row.get("type") or ""),
            fstype=_text(row.get("fstype")),
            label=_text(row.get("label")),
            pttype=_text(row.get("pttype")),
            size=int(row.get("size") or 0),
            mountpoint=_text(row.get("mountpoint")),
        )
        for row in rows
    )


def block_devices() -> tuple[BlockDevice, ...]:
    return parse_lsblk(run(_LSBLK, timeout=120).out)


class Devices:
    """The block devices of this machine with lookups up (to the disk) and down (to everything on it)."""

    def __init__(self, devices: Iterable[BlockDevice]) -> None:
        self.all = tuple(devices)
        self.by_name: dict[str, list[BlockDevice]] = {}
        for dev in self.all:
            self.by_name.setdefault(dev.name, []).append(dev)

    def disks_of(self, name: str) -> set[str]:
        """The top-level devices `name` lives on (a partition's disk, an LV's disks through its PVs)."""
        found: set[str] = set()
        todo = [name]
        seen: set[str] = set()
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            parents = [d.parent for d in self.by_name.get(current, []) if d.parent]
            if not parents:
                found.add(current)
            todo += [p for p in parents if p]
        return found

    def on(self, disk: str) -> list[BlockDevice]:
        """The disk and everything that lives on it."""
        return [d for d in self.all if disk in self.disks_of(d.name)]


@dataclass(frozen=True)
class Protected:
    disk: str
    reason: str


def protected_disks(devices: Devices, *, iso_volid: str, backup_url: str, cmdline: str) -> list[Protected]:
    """Disks a plan must never write: the rescue medium and the disk holding the backup."""
    found: list[Protected] = []

    def protect(name: str, reason: str) -> None:
        for disk in sorted(devices.disks_of(os.path.realpath(name) if name.startswith("/dev/") else name)):
            found.append(Protected(disk, reason))

    for dev in devices.all:
        if dev.fstype == "iso9660" and dev.label == iso_volid:
            protect(dev.name, f"it holds the rescue medium ({dev.name}, iso9660 labelled {iso_volid})")
        if dev.label == RESCUE_DATA_LABEL:
            protect(dev.name, f"it holds the backup and rescue data partition {dev.name} ({RESCUE_DATA_LABEL})")
    for word in cmdline.split():
        _key, _, value = word.partition("=")
        if value.startswith("/dev/"):
            protect(value, f"the kernel command line names {value}")
    url = _backup_url(backup_url)
    # the backup is on a disk of this machine: a directory's file system or a USB disk
    if url is not None and url.scheme.reach in (Reach.LOCAL, Reach.DEVICE):
        path = str(url.path)
        source = path if path.startswith("/dev/") else _mount_source(path)
        if source is not None and source.startswith("/dev/"):
            protect(source, f"it holds the backup ({backup_url})")
    return found


def _backup_url(text: str) -> Url | None:
    """BACKUP_URL when it names a place rearbuild reaches; None for any other (another BACKUP method's URL, a
    scheme not implemented yet), which protects nothing."""
    try:
        return Url.parse(text, Use.BACKUP)
    except UserError:
        return None


def _mount_source(path: str) -> str | None:
    if not os.path.exists(path):
        return None
    try:
        return run(["findmnt", "--noheadings", "--output", "SOURCE", "--target", path]).out.strip() or None
    except CommandError:
        return None


def disk_size(device: str) -> int:
    return int(run(["blockdev", "--getsize64", device]).out.strip())


def check_targets(plan: Plan, devices: Devices, protected: list[Protected]) -> list[str]:
    """Problems that forbid running the plan: missing or too small targets, protected or busy disks."""
    problems: list[str] = []
    guarded = {p.disk: p.reason for p in protected}
    for target in plan.disks:
        problem = _check_one(target, plan, devices, guarded)
        if problem:
            problems.append(problem)
    return problems


def _check_one(target: TargetDisk, plan: Plan, devices: Devices, guarded: dict[str, str]) -> str | None:
    device = target.device
    try:
        mode = os.stat(device).st_mode
    except OSError:
        return f"{device} does not exist (the plan writes it)"
    if not stat.S_ISBLK(mode):
        return f"{device} is not a block device (the plan writes it)"
    real = os.path.realpath(device)
    if real in guarded or device in guarded:
        return f"{device} must not be written: {guarded.get(real) or guarded[device]}"
    root = plan.target_root.rstrip("/") or "/"
    for dev in devices.on(real):
        mounted = dev.mountpoint
        if mounted == "[SWAP]":
            return f"{device} is in use: {dev.name} is an active swap device"
        if mounted and not (mounted == root or mounted.startswith(root + "/")):
            return f"{device} is in use: {dev.name} is mounted at {mounted}"
    try:
        size = disk_size(device)
    except CommandError as exc:
        return f"the size of {device} cannot be read ({exc.message})"
    if size < target.needed:
        return f"{device} is too small: it has {size} bytes and the layout needs {target.needed} bytes"
    return None


def holding_data(plan: Plan, devices: Devices) -> list[str]:
    """Target disks that already hold a partition table or a file system/RAID/LVM/LUKS signature."""
    found: list[str] = []
    for target in plan.disks:
        real = os.path.realpath(target.device)
        what = [f"{d.name}: {d.pttype or d.fstype}" for d in devices.on(real) if d.pttype or d.fstype]
        if what:
            found.append(f"{target.device} ({', '.join(what[:4])}{', ...' if len(what) > 4 else ''})")
    return found


def size_differs(plan: Plan, layout_sizes: dict[str, int]) -> list[str]:
    """Targets whose size is not the saved disk's (ReaR turns migration mode on for them)."""
    differ: list[str] = []
    for target in plan.disks:
        saved = layout_sizes.get(target.device)
        if saved is None or not Path(target.device).exists():
            continue
        try:
            size = disk_size(target.device)
        except CommandError:
            continue
        if size != saved:
            differ.append(f"{target.device} has {size} bytes, the saved disk had {saved}")
    return differ


def missing_programs(plan: Plan, path: str | None = None) -> list[str]:
    return sorted(p for p in plan.programs if shutil.which(p, path=path) is None)


@dataclass(frozen=True)
class TargetCheck:
    problems: tuple[str, ...]  # what forbids running the plan (empty when only shown: they are logged)
    sizes_differ: tuple[str, ...]  # targets whose size is not the saved disk's (migration mode)


def target_problems(
    plan: Plan, layout: Layout, devices: Devices, *, iso_volid: str, backup_url: str, cmdline: str, strict: bool
) -> TargetCheck:
    """The verify stage's look at the target disks. strict: the plan is going to run (not --plan or --demo);
    otherwise problems are only logged, since nothing is written."""
    protected = protected_disks(devices, iso_volid=iso_volid, backup_url=backup_url, cmdline=cmdline)
    for guard in protected:
        log.info("%s is never written: %s", guard.disk, guard.reason)
    problems = check_targets(plan, devices, protected)
    if not strict:
        for problem in problems:
            log.warning("%s (nothing is written now)", problem)
        return TargetCheck((), ())
    if problems:
        return TargetCheck(tuple(problems), ())
    saved = {r.device: r.size for r in layout.active if isinstance(r, Disk)}
    return TargetCheck((), tuple(size_differs(plan, saved)))


def plan_tool_problems(plan: Plan, *, unattended: bool) -> list[str]:
    """What stops the plan from running here: programs this system lacks, passphrases nobody can type."""
    problems: list[str] = []
    missing = missing_programs(plan)
    if missing:
        problems.append(f"the disk plan needs {', '.join(missing)}, which this system lacks")
    if unattended and plan.passphrases:
        problems.append(
            f"the LUKS device(s) {', '.join(plan.passphrases)} need a passphrase typed on the terminal, "
            "and this recovery is unattended"
        )
    return problems
