"""OUTPUT=RAMDISK: the rescue kernel and initrd as two plain files (ReaR's output/RAMDISK/default/
900_copy_ramdisk.sh), for a boot loader of the user's or a hypervisor's direct kernel boot."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from rearbuild.checksum import sha256_file
from rearbuild.errors import UserError


def ramdisk_names(suffix: str) -> tuple[str, str]:
    """The kernel's and the initrd's names: kernel-SUFFIX, initramfs-SUFFIX.img; kernel, initrd.cgz without one.
    ReaR refuses a suffix of several words ("we do not want blanks in kernel or initrd file names")."""
    suffix = suffix.strip()
    if not suffix:
        return "kernel", "initrd.cgz"
    if any(c.isspace() or c == "/" for c in suffix) or suffix in (".", ".."):
        raise UserError(f"RAMDISK_SUFFIX={suffix!r} must be one word without /",
                        hint="e.g. RAMDISK_SUFFIX=$HOSTNAME (the default)")  # fmt: skip
    return f"kernel-{suffix}", f"initramfs-{suffix}.img"


def write_ramdisk(files: Mapping[str, Path], directory: Path) -> dict[Path, str]:
    """Copy each source to directory/name (through a temporary name); the written files with their sha256."""
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[Path, str] = {}
    for name, source in files.items():
        target = directory / name
        tmp = target.with_name(f".{name}.part")
        shutil.copyfile(source, tmp)
        tmp.chmod(0o644)
        tmp.replace(target)
        written[target] = sha256_file(target)
    return written
