"""Files replaced whole or not at all: written to a temporary name in the same directory, flushed to the disk,
then renamed over the old one (rename(2) is atomic within a file system). A full disk, a crash or a concurrent
writer leaves the old file or the new one, never a mixture or an empty file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def sync_directory(directory: Path) -> None:
    """Make a rename in directory durable (fsync(2) of the directory: the new entry survives a power cut)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace path with data; mode is set explicitly (the umask does not change it)."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    sync_directory(path.parent)
