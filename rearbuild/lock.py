"""One rearbuild run at a time (ReaR checks with pidof; a lock file with flock is race-free and survives a
crash: the kernel drops the lock with the process)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from rearbuild.errors import UserError


class RunLock:
    def __init__(self, path: Path, workflow: str) -> None:
        self.path = path
        self.workflow = workflow
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise UserError(
                f"cannot create the lock file {self.path}: {exc.strerror}",
                hint="run as root, or point --var-dir (REARBUILD_VAR_DIR) to a writable directory",
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise UserError(
                f"another rearbuild run is in progress ({holder})",
                hint=f"wait for it to finish; the lock is {self.path}",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}, workflow {self.workflow}\n".encode())
        self._fd = fd
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing releases the flock
            self._fd = None
