"""The kernel's initramfs archive format, "newc" cpio (magic 070701): its header, and reading the member names
of an archive. The writer is rearbuild.build.cpio; rearbuild.recover.initramfs reads a restored system's
initramfs with the reader here.

Spec: the kernel's Documentation/driver-api/early-userspace/buffer-format.rst.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from rearbuild.errors import InternalError

# "070701": the newc magic ("new" portable ASCII format, no checksum), buffer-format.rst.
NEWC_MAGIC = b"070701"
# The name that ends an archive, buffer-format.rst ("TRAILER!!!" entry).
TRAILER_NAME = b"TRAILER!!!"
# Header, name and data are each padded to a multiple of 4 bytes (buffer-format.rst: "aligned on 4-byte
# boundary").
ALIGN = 4
# GNU cpio pads a whole archive to its 512-byte block size; the kernel skips the zero bytes between
# concatenated archives (init/initramfs.c, state Start), so padding keeps us identical to cpio's output.
BLOCK = 512
# Every numeric newc field is 8 ASCII hex digits, so 32 bits is the limit (file size, mtime, ...).
FIELD_MAX = 0xFFFFFFFF

# newc header: 110 ASCII bytes (buffer-format.rst, "c_" fields; all numbers 8-digit hex).
#
#   offset size field
#        0    6 c_magic      "070701"
#        6    8 c_ino        inode number (renumbered 1..n)
#       14    8 c_mode       type bits | permission bits
#       22    8 c_uid        0
#       30    8 c_gid        0
#       38    8 c_nlink      number of links (names) of this inode
#       46    8 c_mtime      seconds since the epoch
#       54    8 c_filesize   bytes of data following the name (0 for all but the last hardlink)
#       62    8 c_maj        device of the file system holding the file (0)
#       70    8 c_min        (0)
#       78    8 c_rmaj       major of a character/block device node
#       86    8 c_rmin       minor of a character/block device node
#       94    8 c_namesize   length of the name including its trailing NUL
#      102    8 c_chksum     0 (only the "070702" crc format uses it)
#      110      name, NUL, padding to 4; then data, padding to 4
NEWC_HEADER = struct.Struct("6s8s8s8s8s8s8s8s8s8s8s8s8s8s")
assert NEWC_HEADER.size == 110


def pad(length: int, alignment: int = ALIGN) -> int:
    return -length % alignment


def hex8(value: int, what: str) -> bytes:
    if not 0 <= value <= FIELD_MAX:
        raise InternalError(f"newc field {what}={value} does not fit in 8 hex digits")
    return b"%08X" % value



def header(fields: Sequence[tuple[int, str]], name: bytes) -> bytes:
    """A header with the 13 numeric fields after c_magic (value, field name for errors), the name, its NUL and
    the padding that aligns what follows."""
    head = NEWC_HEADER.pack(NEWC_MAGIC, *(hex8(value, what) for value, what in fields))
    return head + name + b"\0" + b"\0" * pad(len(head) + len(name) + 1)


def trailer() -> bytes:
    """The end marker: an all-zero header named TRAILER!!! (nlink 1, as GNU cpio writes it)."""
    values = (0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, len(TRAILER_NAME) + 1, 0)
    return header([(v, "trailer") for v in values], TRAILER_NAME)


# Indexes of the fields read back, in NEWC_HEADER's unpacked tuple (0 is c_magic).
_FILESIZE = 7
_NAMESIZE = 12


def read_names(data: bytes, pos: int) -> tuple[list[str], int]:
    """Names of one newc archive starting at pos, and the offset after its trailer."""
    names: list[str] = []
    while data[pos : pos + len(NEWC_MAGIC)] == NEWC_MAGIC:
        if pos + NEWC_HEADER.size > len(data):
            raise ValueError(f"newc header at offset {pos} is cut short")
        fields = NEWC_HEADER.unpack_from(data, pos)
        filesize = int(fields[_FILESIZE], 16)
        namesize = int(fields[_NAMESIZE], 16)
        name = data[pos + NEWC_HEADER.size : pos + NEWC_HEADER.size + namesize - 1]
        pos += NEWC_HEADER.size + namesize
        pos += pad(pos)
        pos += filesize
        pos += pad(pos)
        if name == TRAILER_NAME:
            return names, pos
        names.append(name.decode("utf-8", "replace"))
    return names, pos
