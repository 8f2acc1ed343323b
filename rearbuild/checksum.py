"""sha256 of files, and the sha256sum(1) side file written beside a file as `<file>.sha256`
("<hex>  <name>"), so that `sha256sum -c backup.tar.gz.sha256` checks it by hand too. The backup archive is
checked with it before any disk is touched; every published result (the ISO, RESULT_FILES) carries one."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from rearbuild.atomicfile import atomic_write
from rearbuild.errors import UserError

CHUNK = 1 << 20  # read a MiB at a time: large enough for throughput, small enough for a progress observer

SUFFIX = ".sha256"


def sha256_file(path: str | os.PathLike[str], observe: Callable[[bytes], None] | None = None) -> str:
    """The hex sha256 of a file; observe sees every chunk read (a progress display, a second consumer)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            if observe is not None:
                observe(chunk)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """The hex sha256 of bytes in memory (a document, a side file's line)."""
    return hashlib.sha256(data).hexdigest()


def format_line(digest: str, name: str) -> str:
    return f"{digest}  {name}\n"


def parse_line(text: str, source: Path) -> str:
    """The hex digest of a .sha256 file."""
    words = text.split()
    digest = words[0].lower() if words else ""
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise UserError(f"{source} is not a sha256 checksum file", hint="it should read '<64 hex digits>  <name>'")
    return digest


def side_file(path: Path) -> Path:
    """Where the .sha256 of path lives: beside it."""
    return path.with_name(path.name + SUFFIX)


def write_side_file(path: Path, digest: str) -> Path:
    """Write path's .sha256 naming path by its base name (sha256sum -c runs in its directory); whole or not at
    all, like the backup's checksum (a full disk must not leave an empty .sha256 that a later check refuses)."""
    target = side_file(path)
    atomic_write(target, format_line(digest, path.name).encode())
    return target


def read_side_file(path: Path) -> str:
    """The digest path's .sha256 records; FileNotFoundError when there is none."""
    checksum = side_file(path)
    return parse_line(checksum.read_text(), checksum)


def verify(archive: Path, observe: Callable[[bytes], None] | None = None) -> str:
    """Compare the archive with its .sha256 file; UserError on a mismatch or a missing checksum."""
    checksum = side_file(archive)
    try:
        expected = read_side_file(archive)
    except FileNotFoundError:
        raise UserError(
            f"{checksum} is missing: the backup cannot be checked",
            hint="make the backup again (rearbuild mkbackuponly) or restore the checksum file beside the archive",
        ) from None
    actual = sha256_file(archive, observe)
    if actual != expected:
        raise UserError(
            f"the backup archive {archive} is damaged: its sha256 is {actual}, {checksum.name} says {expected}",
            hint="nothing was written; use an intact copy of the archive (NETFS_KEEP_OLD_BACKUP_COPY keeps one)",
        )
    return actual
