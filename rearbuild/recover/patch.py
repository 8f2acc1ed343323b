"""Patching device names and UUIDs in the restored system's files (ReaR's FILES_TO_PATCH_PATTERNS,
finalize/GNU/Linux/250_migrate_disk_devices_layout.sh and 280_migrate_uuid_tags.sh).

Replacement is two-pass through unique placeholders, so that swapped names (sda <-> sdb) come out right
(ReaR's apply_layout_mappings does the same with _REAR<n>_ words).
"""

from __future__ import annotations

import glob
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

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


def patch_files(root: Path, mappings: Mapping[str, str], patterns: Sequence[str] = FILES_TO_PATCH) -> list[Path]:
    """Apply the mappings to the files below root; returns the files that changed."""
    changed: list[Path] = []
    if not mappings:
        return changed
    for pattern in patterns:
        for name in sorted(glob.glob(str(root / pattern))):
            path = Path(name)
            if not path.is_file() or path.is_symlink():
                continue
            text = path.read_text(errors="surrogateescape")
            patched = patch_text(text, mappings)
            if patched != text:
                path.write_text(patched, errors="surrogateescape")
                changed.append(path)
                log.info("patched device names/UUIDs in %s", path)
    return changed
