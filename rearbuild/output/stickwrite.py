"""`rearbuild write DEVICE [IMAGE]`: put an image (ISO, USB image, RAWDISK) onto a stick, safely.

Refused always: a device that is mounted (it or a partition of it), or that holds the running system (/, /boot,
/usr or swap live on it or on something built on it: LVM, RAID, crypt). Refused unless forced: a device that is
neither removable nor on USB (a second internal disk is one typo away). Before writing, what will be destroyed is
shown (model, size, partitions with labels) and confirmed. Then: write with progress, flush (fsync), read back and
compare the sha256. Interrupted, it says what state the device is in: untouched, or partly written and not
bootable.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from rearbuild.errors import UserError
from rearbuild.run import run

CHUNK = 4 * 2**20  # large writes for flash; the progress line is redrawn at most every PROGRESS_SECONDS
PROGRESS_SECONDS = 0.5
SYSTEM_MOUNTS = ("/", "/boot", "/boot/efi", "/usr", "/var")


@dataclass(frozen=True)
class BlockPart:
    path: str
    size: int
    label: str
    fstype: str


@dataclass(frozen=True)
class TargetDevice:
    path: Path
    model: str
    size: int
    removable: bool
    transport: str
    partitions: tuple[BlockPart, ...]
    mountpoints: tuple[str, ...]  # of the device and every partition

    def describe(self) -> str:
        kind = "removable" if self.removable else "fixed"
        lines = [f"{self.path}: {self.model or 'unknown model'}, {self.size / 1e9:.1f} GB ({self.size} bytes), {kind}"
                 f"{', ' + self.transport if self.transport else ''}"]  # fmt: skip
        for part in self.partitions:
            lines.append(f"  {part.path}: {part.size / 1e6:.0f} MB {part.fstype or '-'} {part.label or ''}".rstrip())
        if not self.partitions:
            lines.append("  (no partitions)")
        return "\n".join(lines)


def _walk(node: dict[str, object]) -> list[dict[str, object]]:
    children = node.get("children") or []
    found = [node]
    for child in children if isinstance(children, list) else []:
        found += _walk(child)
    return found


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def inspect(device: Path) -> TargetDevice:
    """What lsblk knows about the whole-disk `device`; UserError if it is not a block device."""
    try:
        mode = device.stat().st_mode
    except OSError as exc:
        raise UserError(f"{device}: {exc.strerror}", hint="name the stick, e.g. /dev/sdb (lsblk lists them)") from exc
    if not stat.S_ISBLK(mode):
        raise UserError(f"{device} is not a block device", hint="name the whole stick, e.g. /dev/sdb")
    columns = "NAME,PATH,MODEL,SIZE,RM,TRAN,TYPE,LABEL,FSTYPE,MOUNTPOINTS"
    data = json.loads(run(["lsblk", "-J", "-b", "-o", columns, device], hint="apt-get install util-linux").out)
    top = data["blockdevices"][0]
    if top.get("type") == "part":
        raise UserError(f"{device} is a partition", hint="name the whole stick (e.g. /dev/sdb, not /dev/sdb1)")
    nodes = _walk(top)
    mounts = tuple(m for n in nodes for m in _list(n.get("mountpoints")) if isinstance(m, str) and m)
    parts = tuple(
        BlockPart(str(n["path"]), int(str(n.get("size") or 0)), str(n.get("label") or ""), str(n.get("fstype") or ""))
        for n in nodes[1:]
    )
    return TargetDevice(
        path=device, model=str(top.get("model") or "").strip(), size=int(str(top.get("size") or 0)),
        removable=bool(top.get("rm")), transport=str(top.get("tran") or ""), partitions=parts, mountpoints=mounts,
    )  # fmt: skip


def system_disks() -> set[str]:
    """The whole disks the running system lives on: under /, /boot, /usr, /var and active swap, through LVM,
    RAID and crypt (lsblk -s walks from a device to what it is built on)."""
    sources: set[str] = set()
    for mount in SYSTEM_MOUNTS:
        result = run(["findmnt", "-n", "-o", "SOURCE", "--target", mount], check=False)
        if result.returncode == 0 and result.out.strip().startswith("/dev/"):
            sources.add(result.out.strip().split("[")[0])
    swaps = Path("/proc/swaps")
    if swaps.is_file():
        sources |= {line.split()[0] for line in swaps.read_text().splitlines()[1:] if line.startswith("/dev/")}
    disks: set[str] = set()
    for source in sources:
        result = run(["lsblk", "-J", "-s", "-o", "PATH,TYPE", source], check=False)
        if result.returncode != 0:
            continue
        for top in json.loads(result.out)["blockdevices"]:
            disks |= {os.path.realpath(str(n["path"])) for n in _walk(top) if n.get("type") in ("disk", "loop")}
    return disks


def check_target(target: TargetDevice, *, force: bool) -> None:
    """The refusals: mounted, the running system's disk, and (unless forced) not removable/USB."""
    if os.path.realpath(target.path) in system_disks():
        raise UserError(f"{target.path} holds the running system", hint="name the stick, not this machine's disk")
    if target.mountpoints:
        raise UserError(f"{target.path} is mounted on {', '.join(sorted(target.mountpoints))}",
                        hint=f"unmount it first (umount {' '.join(sorted(target.mountpoints))})")  # fmt: skip
    if not force and not target.removable and target.transport != "usb":
        raise UserError(f"{target.path} is neither removable nor a USB disk",
                        hint="check the device name; --force writes to it anyway")  # fmt: skip


def check_fits(image: Path, target: TargetDevice) -> None:
    size = image.stat().st_size
    if size > target.size:
        raise UserError(f"{image} ({size} bytes) does not fit on {target.path} ({target.size} bytes)",
                        hint="use a larger stick")  # fmt: skip


def confirm(question: str, *, assume_yes: bool, ask: Callable[[str], str] = input) -> None:
    """Ask before destroying data; without a terminal only --yes goes on."""
    if assume_yes:
        return
    if not sys.stdin.isatty():
        raise UserError("not confirmed: no terminal to ask on", hint="add --yes when you are sure")
    if ask(f"{question} Type YES to go on: ").strip() != "YES":
        raise UserError("not confirmed, nothing was written")


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


class Progress:
    """bytes, rate and ETA on one redrawn line, only on a terminal."""

    def __init__(self, total: int, stream: IO[str] = sys.stderr) -> None:
        self.total, self.stream, self.started, self.shown = total, stream, time.monotonic(), 0.0
        self.enabled = stream.isatty()

    def update(self, done: int, *, final: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not final and now - self.shown < PROGRESS_SECONDS):
            return
        self.shown = now
        rate = done / max(now - self.started, 1e-6)
        eta = (self.total - done) / rate if rate else 0
        self.stream.write(f"\r{_human(done)} of {_human(self.total)} ({100 * done // max(self.total, 1)}%), "
                          f"{_human(rate)}/s, ETA {int(eta) // 60}:{int(eta) % 60:02d}  ")  # fmt: skip
        if final:
            self.stream.write("\n")
        self.stream.flush()


@dataclass(frozen=True)
class WriteResult:
    bytes: int
    sha256: str
    seconds: float


def write_image(image: Path, device: Path, *, progress: Progress | None = None) -> WriteResult:
    """Copy image to device, fsync, read back, compare sha256. Ctrl-C: UserError saying how far it got."""
    size = image.stat().st_size
    started = time.monotonic()
    written = 0
    source_hash = hashlib.sha256()
    try:
        with image.open("rb") as src, device.open("r+b", buffering=0) as dst:
            while chunk := src.read(CHUNK):
                source_hash.update(chunk)
                dst.write(chunk)
                written += len(chunk)
                if progress:
                    progress.update(written)
            os.fsync(dst.fileno())
        if progress:
            progress.update(written, final=True)
    except KeyboardInterrupt:
        state = "untouched" if written == 0 else f"partly written ({written} of {size} bytes) and NOT bootable"
        raise UserError(f"interrupted: {device} is {state}", hint="run the same write again to finish it") from None
    except OSError as exc:
        raise UserError(f"writing {device} failed after {written} bytes: {exc.strerror}",
                        hint="the stick may be faulty or write-protected; it is not bootable now") from exc  # fmt: skip
    expected = source_hash.hexdigest()
    try:
        actual = read_back(device, size)
    except KeyboardInterrupt:
        raise UserError(f"interrupted while verifying: {device} is completely written and flushed, but not verified",
                        hint="run the same write again to verify it") from None  # fmt: skip
    if actual != expected:
        raise UserError(f"{device} does not read back what was written (sha256 {actual}, expected {expected})",
                        hint="the stick is faulty or smaller than it says; use another one")  # fmt: skip
    return WriteResult(written, expected, time.monotonic() - started)


def read_back(device: Path, size: int) -> str:
    """sha256 of the first `size` bytes of device, read past the page cache (posix_fadvise DONTNEED first)."""
    digest = hashlib.sha256()
    with device.open("rb", buffering=0) as fp:
        os.posix_fadvise(fp.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        left = size
        while left:
            chunk = fp.read(min(CHUNK, left))
            if not chunk:
                raise UserError(f"{device} is smaller than the image ({size} bytes)")
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def random_seed() -> str:
    """A fresh identity for a medium being formatted (its GUIDs): unlike images, two sticks must differ."""
    return os.urandom(16).hex()
