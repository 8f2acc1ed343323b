"""The El Torito EFI boot image (efiboot.img): a small FAT file system holding EFI/BOOT/BOOTX64.EFI.

Made without root and without mount: mkfs.fat creates the file system in a file, mtools (mmd, mcopy with
-i IMAGE) fills it. Byte-for-byte reproducible, following what systemd-repart/mkosi had to learn
(peer-techniques.md §B1.2, §B7):

- mkfs.fat --invariant: dosfstools 4.2 stamps the volume label entry with the current time and ignores
  SOURCE_DATE_EPOCH (that support, commit 8da7bc93, is unreleased); --invariant uses constants instead
  (mkfs.fat(8)). The serial number is then set explicitly with -i, derived from the build's seed.
- mtools takes directory and file dates from SOURCE_DATE_EPOCH when set (mtools 4.0.32, verified by building
  twice), in local time, hence TZ=UTC (systemd PR #29646); never `mcopy -m` (source mtimes).
- directories and files are added one by one in sorted order, never `mcopy -s` (readdir order, systemd
  PR #42446); MTOOLSRC=/dev/null keeps a user's ~/.mtoolsrc out.
- the size is computed from the contents, so the geometry is a function of the inputs.

Small images get FAT12/16 as mkfs.fat chooses; FAT32 needs >= 65525 clusters and OVMF rejects a FAT32
with fewer (mkosi make_esp), which an efiboot.img never needs.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from rearbuild.errors import UserError
from rearbuild.run import run

# The El Torito section entry counts the image in 512-byte sectors in a 16-bit field (El Torito 1.0,
# section 2.2, offset 6 "Sector Count"; pycdlib eltorito.py FMT '<BBHBBHLB19s'): 65535 * 512 bytes is
# the largest image a firmware can be told to load.
MAX_IMAGE_BYTES = 0xFFFF * 512
CLUSTER_BYTES = 4096  # the largest cluster mkfs.fat picks for images this small; used to size generously
SLACK_BYTES = 256 * 1024  # boot sector, two FATs, root directory, directory clusters
_HINT_TOOLS = "apt-get install dosfstools mtools"

FatSource = Path | bytes


@dataclass(frozen=True)
class FatImage:
    path: Path
    size: int
    sha256: str


def _fat_path(name: str) -> PurePosixPath:
    path = PurePosixPath("/") / name
    if ".." in path.parts or len(path.parts) < 2:
        raise UserError(f"invalid path {name!r} for the EFI boot image")
    return path


def _source_size(source: FatSource) -> int:
    if isinstance(source, bytes):
        return len(source)
    try:
        return source.stat().st_size
    except OSError as exc:
        raise UserError(f"cannot read {source} for the EFI boot image: {exc.strerror}") from exc


def image_size_kib(files: Mapping[str, FatSource]) -> int:
    """A size that fits the files with room for FAT overhead, in whole 64 KiB steps (mkfs.fat BLOCKS)."""
    payload = sum(-(-_source_size(src) // CLUSTER_BYTES) * CLUSTER_BYTES for src in files.values())
    dirs = {parent for name in files for parent in _fat_path(name).parents}
    needed = payload + len(dirs) * CLUSTER_BYTES + SLACK_BYTES
    needed += needed // 16  # FAT tables grow with the size
    return -(-needed // (64 * 1024)) * 64


def _mtools_env(epoch: int) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "SOURCE_DATE_EPOCH": str(epoch),
        "TZ": "UTC",
        "LC_ALL": "C",
        "MTOOLSRC": "/dev/null",
        # mtools checks the boot sector's geometry against a floppy table and refuses "unusual" sizes
        "MTOOLS_SKIP_CHECK": "1",
    }


def write_fat_image(
    out: Path,
    files: Mapping[str, FatSource],
    *,
    epoch: int,
    volume_id: int,
    label: str = "EFIBOOT",
    size_kib: int | None = None,
) -> FatImage:
    """Write a FAT image at `out` holding `files` (path in the image -> source file or bytes).

    epoch: the date of every directory and file entry (seconds since 1970, UTC).
    volume_id: the 32-bit volume serial number. label: up to 11 characters.
    """
    if not 0 <= volume_id <= 0xFFFFFFFF:
        raise UserError(f"FAT volume id {volume_id:#x} does not fit in 32 bits")
    if not label or len(label) > 11 or not label.isascii() or not label.isprintable():
        raise UserError(f"FAT label {label!r} must be 1-11 printable ASCII characters")
    size = size_kib if size_kib is not None else image_size_kib(files)
    if size * 1024 > MAX_IMAGE_BYTES:
        raise UserError(
            f"the EFI boot image would need {size} KiB, more than the {MAX_IMAGE_BYTES // 1024} KiB El Torito can load",
            hint="keep only the boot loader in the EFI image; kernel and initrd belong on the ISO",
        )
    env = _mtools_env(epoch)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".efiboot-", dir=out.parent) as tmp:
        image = Path(tmp) / "efiboot.img"
        run(
            [
                "mkfs.fat",
                "--invariant",
                "-C",
                "-i",
                f"{volume_id:08X}",
                "-n",
                label.upper(),
                image,
                f"{size}",
            ],
            env=env,
            hint=_HINT_TOOLS,
        )
        copy_into_fat(str(image), files, epoch=epoch)
        os.chmod(image, 0o644)
        os.replace(image, out)
    data = out.read_bytes()
    return FatImage(path=out, size=len(data), sha256=hashlib.sha256(data).hexdigest())


def copy_into_fat(image: str, files: Mapping[str, FatSource], *, epoch: int, replace: bool = False) -> None:
    """Add `files` (path in the file system -> source) to the FAT file system `image`, which mtools names:
    a file or device, or `DISK@@OFFSET` for one inside a disk (a partition, mtools(1) "offset"). Directories
    and files one by one in sorted order (reproducible, see the module's doc). replace: overwrite files that
    exist (a stick updated by mkrescue)."""
    env = _mtools_env(epoch)
    made: set[PurePosixPath] = {PurePosixPath("/")}
    with tempfile.TemporaryDirectory(prefix=".fat-") as tmp:
        for name in sorted(files, key=lambda n: _fat_path(n).parts):
            path = _fat_path(name)
            for parent in reversed(path.parents):
                if parent not in made:
                    # a stick updated by mkrescue has the directory already (mmd fails on it, even with -D s)
                    listed = run(["mdir", "-b", "-i", image, f"::{parent}"], env=env, check=False) if replace else None
                    there = listed is not None and listed.returncode == 0
                    if not there:
                        run(["mmd", "-i", image, f"::{parent}"], env=env, hint=_HINT_TOOLS)
                    made.add(parent)
            source = files[name]
            if isinstance(source, bytes):
                staged = Path(tmp) / "staged"
                staged.write_bytes(source)
                source = staged
            clash = ["-D", "o"] if replace else []
            run(["mcopy", *clash, "-i", image, source, f"::{path}"], env=env, hint=_HINT_TOOLS)


def format_fat(
    target: Path, *, offset: int, size: int, label: str, volume_id: int, create: bool = False
) -> None:
    """mkfs.fat a file system of `size` bytes at byte `offset` of `target` (a disk image file or a device), with
    the invariant dates and serial of write_fat_image. create: make `target` as a new file of exactly `size`."""
    if offset % 512 or size % 1024:
        raise UserError(f"a FAT file system must start on a sector and fill whole KiB (offset {offset}, size {size})")
    argv: list[str | Path] = ["mkfs.fat", "--invariant", "-i", f"{volume_id:08X}", "-n", label.upper()]
    if create:
        argv.append("-C")
    else:
        argv.append(f"--offset={offset // 512}")
    # FAT32 from 512 MiB on, as mkfs.fat would choose; below that FAT16 (OVMF rejects a FAT32 with fewer than
    # 65525 clusters, mkosi make_esp); -F fixes it so the choice is a function of the size only.
    argv += ["-F", "32" if size >= 512 * 2**20 else "16", target, str(size // 1024)]
    run(argv, env=_mtools_env(0), hint=_HINT_TOOLS)
