"""What is inside an initramfs, read without the distribution's tools (lsinitramfs, lsinitrd may be missing
from a restored system, and running them needs a working chroot).

An initramfs is one or more newc cpio archives, each uncompressed (early microcode) or compressed, concatenated
(Documentation/driver-api/early-userspace/buffer-format.rst). Only the member names are needed here.
"""

from __future__ import annotations

import gzip
import lzma
import struct
from pathlib import Path

from rearbuild.errors import UserError
from rearbuild.run import run

# newc header (buffer-format.rst): 6-byte magic "070701", then 13 fields of 8 hex digits, 110 bytes in all.
# Offset 0:   c_magic      "070701"
# Offset 6:   c_ino ... c_filesize at offset 54 (field 7), c_namesize at offset 94 (field 12), c_check at 102
_NEWC_MAGIC = b"070701"
_HEADER = 110
_TRAILER = b"TRAILER!!!"

# Magic numbers of the compressors the kernel accepts for an initramfs (usr/Kconfig: RD_GZIP, RD_XZ, RD_ZSTD...).
_GZIP = b"\x1f\x8b"
_XZ = b"\xfd7zXZ\x00"
_LZMA = b"\x5d\x00\x00"
_ZSTD = struct.pack("<I", 0xFD2FB528)


def _align4(n: int) -> int:
    return (n + 3) & ~3


def _cpio_names(data: bytes, pos: int) -> tuple[list[str], int]:
    """Names of one newc archive starting at pos, and the offset after its trailer."""
    names: list[str] = []
    while data[pos : pos + 6] == _NEWC_MAGIC:
        filesize = int(data[pos + 54 : pos + 62], 16)
        namesize = int(data[pos + 94 : pos + 102], 16)
        name = data[pos + _HEADER : pos + _HEADER + namesize - 1]
        pos = _align4(pos + _HEADER + namesize)
        pos = _align4(pos + filesize)
        if name == _TRAILER:
            return names, pos
        names.append(name.decode("utf-8", "replace"))
    return names, pos


def _decompress(data: bytes, where: str) -> bytes:
    if data.startswith(_GZIP):
        return gzip.decompress(data)
    if data.startswith(_XZ) or data.startswith(_LZMA):
        decompressor = lzma.LZMADecompressor()
        return decompressor.decompress(data)
    if data.startswith(_ZSTD):
        return run(["zstd", "-dcq"], input=data, hint="install zstd").stdout
    raise UserError(f"{where}: unknown initramfs compression (first bytes {data[:6].hex()})")


def members(path: Path) -> set[str]:
    """Every path inside the initramfs, without leading './'."""
    data = path.read_bytes()
    names: list[str] = []
    pos = 0
    while pos < len(data):
        while pos < len(data) and data[pos] == 0:  # padding between archives
            pos += 1
        if pos >= len(data):
            break
        if data[pos : pos + 6] == _NEWC_MAGIC:
            found, pos = _cpio_names(data, pos)
            names += found
            continue
        rest = _decompress(data[pos:], str(path))
        inner = 0
        while inner < len(rest):
            while inner < len(rest) and rest[inner] == 0:
                inner += 1
            if rest[inner : inner + 6] != _NEWC_MAGIC:
                break
            found, inner = _cpio_names(rest, inner)
            names += found
        break  # a compressed archive runs to the end of the file (the kernel reads it so, too)
    return {n[2:] if n.startswith("./") else n for n in names}


def has_module(contents: set[str], module: str) -> bool:
    """Whether a kernel module (name with _ or -) is among the members (.ko, .ko.xz, .ko.zst, .ko.gz)."""
    wanted = module.replace("-", "_")
    for name in contents:
        base = name.rsplit("/", 1)[-1]
        if ".ko" in base and base.split(".ko", 1)[0].replace("-", "_") == wanted:
            return True
    return False
