"""What the proprietary backup clients (BACKUP=NSR, TSM, DP, FDRUPSTREAM) share: the client's files and programs
the rescue image carries (its payload), the check that the client is installed, running its programs with the
vendor's library path, and handing the restore over to an operator.

ReaR copies each client into the image with COPY_AS_IS_<METHOD> minus COPY_AS_IS_EXCLUDE_<METHOD> and PROGS_<METHOD>
(prep/<METHOD>/default/400_prep_*.sh) and runs the client with LD_LIBRARY_PATH_FOR_BACKUP_TOOL set to the vendor's
library directories (<METHOD>_LD_LIBRARY_PATH). The vendors' programs were not available to test against: rearbuild
runs the command lines their documentation and ReaR give, verified with stand-ins that record their arguments.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rearbuild.config.model import truth
from rearbuild.errors import UserError
from rearbuild.log import notice


@dataclass(frozen=True)
class Payload:
    """What a method adds to the rescue image."""

    method: str
    product: str  # the vendor's product, for the message that asks to install it
    programs: tuple[str, ...] = ()  # PROGS_<METHOD> and helpers: found on PATH, copied with their libraries
    files: tuple[str, ...] = ()  # COPY_AS_IS_<METHOD>
    exclude: tuple[str, ...] = ()  # COPY_AS_IS_EXCLUDE_<METHOD>
    required: tuple[str, ...] = ()  # programs or absolute paths without which the restore cannot work
    ld_library_path: str = ""  # <METHOD>_LD_LIBRARY_PATH: where the client's own libraries are


@dataclass(frozen=True)
class PayloadSize:
    programs: tuple[tuple[str, str, int], ...]  # (name, path on this host or '', bytes)
    files: int  # regular files below the COPY_AS_IS entries (excludes left out)
    file_bytes: int

    @property
    def total(self) -> int:
        return self.file_bytes + sum(size for _, _, size in self.programs)


def _excluded(path: str, exclude: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(path, pattern) or path.startswith(pattern.rstrip("/") + "/") for pattern in exclude)


def measure(payload: Payload) -> PayloadSize:
    """The payload's size on this host (programs without their shared libraries, which other programs share)."""
    programs = []
    for name in payload.programs:
        found = shutil.which(name) or ""
        programs.append((name, found, os.stat(found).st_size if found else 0))
    count = size = 0
    for entry in (m for pattern in payload.files for m in sorted(glob.glob(pattern))):
        root = Path(entry)
        walk = [(str(root.parent), [], [root.name])] if root.is_file() else os.walk(root)
        for dirpath, _, names in walk:
            for name in names:
                path = os.path.join(dirpath, name)
                if os.path.isfile(path) and not os.path.islink(path) and not _excluded(path, payload.exclude):
                    count += 1
                    size += os.stat(path).st_size
    return PayloadSize(tuple(programs), count, size)


def describe(payload: Payload) -> list[str]:
    """Lines for `rearbuild dump`: every program and the files, with their sizes on this host."""
    size = measure(payload)
    lines = [f"BACKUP={payload.method} ({payload.product}): {size.total / 2**20:.1f} MiB in the rescue image"]
    for name, path, nbytes in size.programs:
        lines.append(f"  program {name}: {path or 'NOT FOUND'} ({nbytes} bytes)")
    lines.append(f"  files: {' '.join(payload.files) or '(none)'}: {size.files} files, {size.file_bytes} bytes")
    if payload.exclude:
        lines.append(f"  left out: {' '.join(payload.exclude)}")
    if payload.ld_library_path:
        lines.append(f"  LD_LIBRARY_PATH for the client: {payload.ld_library_path}")
    return lines


def check_client(payload: Payload) -> None:
    """In prep, before anything is built: a rescue image without the client could not restore."""
    missing = [
        item
        for item in payload.required
        if not (os.access(item, os.X_OK) if item.startswith("/") else shutil.which(item))
    ]
    if missing:
        raise UserError(
            f"BACKUP={payload.method} needs the {payload.product} client, and {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not installed "
            "on this host; the rescue image could not restore",
            hint=f"install the {payload.product} client (it is copied into the rescue image), or choose another BACKUP",
        )


def client_env(ld_library_path: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment the vendor's programs run in: their library directories first (ReaR's
    LD_LIBRARY_PATH_FOR_BACKUP_TOOL), for the client only -- rearbuild's own programs keep the system's."""
    env = dict(os.environ)
    if ld_library_path:
        current = env.get("LD_LIBRARY_PATH", "")
        env["LD_LIBRARY_PATH"] = ld_library_path + (":" + current if current else "")
    env.update(extra or {})
    return env


def hand_over(message: str, target: Path, *, interactive: bool, read_line: Callable[[], str] | None = None) -> None:
    """The restore is started elsewhere (the vendor's console, a server-side job): show message and wait until
    the operator confirms; nobody to answer is a UserError."""
    if read_line is None:
        if not interactive:
            raise UserError(
                f"the restore into {target} is started from the backup server and needs an operator to confirm it, "
                "and this run is non-interactive",
                hint="run recover interactively",
            )
        read_line = sys.stdin.readline
    notice("%s", message)
    while True:
        sys.stderr.write("restore done? [ENTER/abort] ")
        sys.stderr.flush()
        answer = read_line()
        if answer == "":
            raise UserError(f"no answer: the restore into {target} was not confirmed")
        word = answer.strip().lower()
        if word in ("abort", "q", "quit") or truth(word) is False:
            raise UserError(f"recovery aborted by the operator before the restore into {target} was done")
        if word in ("", "done", "exit", "continue") or truth(word) is True:
            notice("operator confirmed the restore into %s", target)
            return
