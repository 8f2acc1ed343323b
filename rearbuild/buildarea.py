"""The build area of a run ($BUILD_DIR, TMPDIR/rear.XXXXXX) and what a killed run leaves of it.

A run holds flock(2) on its build area's directory for as long as it lives, and only then puts the marker file
into it: a build area with the marker whose lock can be taken belongs to a run that is gone (SIGKILL, a power
cut) and is removed by the next run, which says so. Build areas without the marker (ReaR's own rear.XXXXXX, one
kept on purpose with KEEP_BUILD_DIR or -d) are never touched, nor one with something mounted below it: removing
it would delete the mounted file system's files.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

from rearbuild.log import notice

log = logging.getLogger("rearbuild")

MARKER = ".rearbuild-run"
PREFIX = "rear."  # ReaR's name: mktemp -d -t rear.XXXXXXXXXXXXXXX


class BuildArea:
    def __init__(self, tmpdir: Path) -> None:
        self.path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=tmpdir))
        self._fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(self._fd, fcntl.LOCK_EX)  # a new directory: nobody else holds it
        (self.path / MARKER).write_text(f"pid {os.getpid()}\n")

    def keep(self) -> None:
        """Kept on purpose: no later run may take it for a leftover."""
        with contextlib.suppress(OSError):
            (self.path / MARKER).unlink()
        self.release()

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        self.release()

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _mounts_below(path: Path) -> list[str]:
    below = []
    with contextlib.suppress(OSError), open("/proc/self/mountinfo") as f:
        for line in f:
            # mountinfo(5): the 5th field is the mount point, with blanks and backslashes as octal escapes
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])
            if point == str(path) or point.startswith(f"{path}/"):
                below.append(point)
    return below


def sweep(tmpdir: Path) -> None:
    """Remove the build areas of rearbuild runs that were killed, telling which."""
    for area in sorted(tmpdir.glob(f"{PREFIX}*")):
        marker = area / MARKER
        if not marker.is_file() or area.is_symlink():
            continue
        try:
            fd = os.open(area, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a run that is alive
            mounted = _mounts_below(area)
            if mounted:
                log.warning("the build area %s of an interrupted run has %s mounted: unmount it and remove %s",
                            area, " ".join(mounted), area)  # fmt: skip
                continue
            owner = marker.read_text(errors="replace").strip()
            shutil.rmtree(area, ignore_errors=True)
            notice("removed the build area %s left by an interrupted run (%s)", area, owner)
        finally:
            os.close(fd)
