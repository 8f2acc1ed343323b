"""Kernel module names: how libkmod compares them, and the name of a module file."""

from __future__ import annotations

import os

from rearbuild.compression import Codec
from rearbuild.errors import UserError


def normalize(name: str) -> str:
    """A module name as libkmod compares it: '-' becomes '_' except between '[' and ']' (globs)."""
    if "-" not in name:
        return name
    out = []
    in_brackets = False
    for char in name:
        if char == "[":
            in_brackets = True
        elif char == "]":
            in_brackets = False
        out.append("_" if char == "-" and not in_brackets else char)
    return "".join(out)


# The compressions a module file may have, in kmod's KMOD_EXTENSION order (libkmod/libkmod-internal.h).
MODULE_CODECS = (Codec.XZ, Codec.GZIP, Codec.ZSTD, Codec.NONE)
# A module file is NAME.ko followed by its compression's suffix.
MODULE_SUFFIX = ".ko"


def module_codec(path: str | os.PathLike[str]) -> Codec:
    """How a module file is compressed, from its name (kernel/fs/xfs/xfs.ko.zst -> Codec.ZSTD)."""
    name = os.fspath(path)
    for codec in MODULE_CODECS:
        if name.endswith(MODULE_SUFFIX + codec.suffix):
            return codec
    raise UserError(
        f"{name} is not a kernel module file (.ko, .ko.xz, .ko.gz or .ko.zst)",
        hint="check modules.dep of that kernel, or run depmod for it",
    )


def module_name(path: str | os.PathLike[str]) -> str:
    """kernel/drivers/md/dm-crypt.ko.xz -> dm_crypt."""
    base = os.path.basename(os.fspath(path))
    return normalize(base[: -len(MODULE_SUFFIX + module_codec(base).suffix)])


def module_stem(path: str) -> str | None:
    """The module name of any file name with .ko in it, whatever follows (a line of modules.builtin, a member
    of an initramfs: kernel/fs/ext4/ext4.ko -> ext4); None when the name has no .ko."""
    base = path.rsplit("/", 1)[-1]
    if MODULE_SUFFIX not in base:
        return None
    return normalize(base.split(MODULE_SUFFIX, 1)[0])
