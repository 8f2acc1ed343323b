"""Patching device names and UUIDs in the restored system's files (ReaR's FILES_TO_PATCH_PATTERNS,
finalize/GNU/Linux/250_migrate_disk_devices_layout.sh and 280_migrate_uuid_tags.sh).

Replacement is two-pass through unique placeholders, so that swapped names (sda <-> sdb) come out right
(ReaR's apply_layout_mappings does the same with _REAR<n>_ words).
"""

from __future__ import annotations

import fnmatch
import logging
import os
import re
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path

from rearbuild.recover import target

log = logging.getLogger("rearbuild.recover")

# Files that name devices or file-system UUIDs (relative to the restored root; globs allowed).
FILES_TO_PATCH = (
    "etc/fstab", "etc/crypttab", "etc/mtab", "etc/mdadm/mdadm.conf", "etc/mdadm.conf",
    "boot/grub/grub.cfg", "boot/grub/device.map", "boot/grub2/grub.cfg", "boot/grub2/device.map",
    "boot/efi/*/*/grub.cfg", "etc/default/grub", "etc/initramfs-tools/conf.d/resume", "etc/lvm/lvm.conf",
)  # fmt: skip


def _pattern(old: str) -> re.Pattern[str]:
    # A device name must not match inside a longer one (/dev/sda must leave /dev/sda1 to its own mapping).
    return re.compile(re.escape(old) + r"(?![0-9A-Za-z])")


def patch_text(text: str, mappings: Mapping[str, str]) -> str:
    ordered = sorted(mappings.items(), key=lambda kv: -len(kv[0]))
    for number, (old, _) in enumerate(ordered):
        text = _pattern(old).sub(f"\0REARBUILD{number}\0", text)
    for number, (_, new) in enumerate(ordered):
        text = text.replace(f"\0REARBUILD{number}\0", new)
    return text


_GLOB = re.compile(r"[*?[]")  # what makes a path component a glob pattern (glob(7))


def _expand(root: Path, pattern: str) -> list[str]:
    """The paths a glob pattern (relative to the restored root) names there, each directory on the way resolved
    as in a chroot of root (recover.target), so that a link of the restored system never leads out of it."""
    found = [""]
    for part in (p for p in pattern.split("/") if p not in ("", ".")):
        if not _GLOB.search(part):
            found = [f"{f}/{part}" for f in found]
            continue
        expanded: list[str] = []
        for prefix in found:
            try:
                with target.directory(root, prefix) as where:
                    names = os.listdir(where.fd)
            except OSError:
                continue
            # glob(7): a leading dot is matched only by a pattern starting with one
            names = [n for n in names if not n.startswith(".") or part.startswith(".")]
            expanded += [f"{prefix}/{n}" for n in sorted(fnmatch.filter(names, part))]
        found = expanded
    return found


def _patch_one(root: Path, relative: str, mappings: Mapping[str, str]) -> Path | None:
    """Patch one regular file in place (its owner, mode, xattrs and labels stay); None when nothing changed.
    A link is left alone, as before: the file it names is patched under its own name, if listed."""
    with target.parent(root, relative) as (where, name):
        try:
            fd = os.open(name, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=where.fd)
        except OSError:  # missing, a link (ELOOP), or not writable
            return None
        with os.fdopen(fd, "r+", encoding="utf-8", errors="surrogateescape", newline="") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return None
            text = f.read()
            patched = patch_text(text, mappings)
            if patched == text:
                return None
            f.seek(0)
            f.write(patched)
            f.truncate()
        return where.path / name


def patch_files(root: Path, mappings: Mapping[str, str], patterns: Sequence[str] = FILES_TO_PATCH) -> list[Path]:
    """Apply the mappings to the files below root; returns the files that changed (their paths below root)."""
    changed: list[Path] = []
    if not mappings:
        return changed
    for pattern in patterns:
        for relative in _expand(root, pattern):
            try:
                path = _patch_one(root, relative, mappings)
            except OSError as exc:  # a directory on the way is a file, or a loop of links
                log.warning("not patched: %s in %s: %s", relative, root, exc)
                continue
            if path is not None and path not in changed:
                changed.append(path)
                log.info("patched device names/UUIDs in %s", path)
    return changed
