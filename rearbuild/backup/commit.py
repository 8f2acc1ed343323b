"""How a new backup archive replaces the last good one: at every instant -- two runs at once, SIGKILL, a full
file system, a power cut -- the location holds a complete archive whose checksum says so.

    lock       one writer per location: flock(2) on <dir>/../.<dir>.rearbuild-lock, held for the whole backup; a
               second run is refused, naming the holder (the kernel drops the lock of a killed run)
    write      <archive>.partial, created 0600 (a backup holds every file of the system, /etc/shadow included)
    commit     1. <archive>.sha256.new, written whole and flushed -- a full disk fails here, before anything moves
               2. rename .partial -> archive          (the new archive; .sha256.new vouches for it)
               3. rename .sha256.new -> .sha256       (the pair is consistent again)
    verify     the archive matches .sha256, or a .sha256.new a run killed between 2 and 3 left behind
    next run   removes a .partial left by a killed run, and finishes or drops a .sha256.new (both under the lock)
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from rearbuild import checksum
from rearbuild.atomicfile import atomic_write, sync_directory
from rearbuild.errors import UserError
from rearbuild.log import notice

PARTIAL = ".partial"
PENDING = checksum.SUFFIX + ".new"
ARCHIVE_MODE = 0o600  # root only: the archive holds every file of the system
CHECKSUM_MODE = 0o644  # a checksum tells nothing about the content
LOCK_MODE = 0o644  # the holder's pid and start, for the refused run's message


def _pending(archive: Path) -> Path:
    return archive.with_name(archive.name + PENDING)


def partial_of(archive: Path) -> Path:
    return archive.with_name(archive.name + PARTIAL)


@contextlib.contextmanager
def locked(directory: Path, what: str) -> Iterator[None]:
    """Hold the location's lock for the block; what: the holder's description for a refused second run."""
    lock = directory.parent / f".{directory.name}.rearbuild-lock"
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, LOCK_MODE)
    except OSError as exc:
        raise UserError(
            f"cannot create the lock {lock} of the backup location: {exc.strerror}",
            hint="check that the backup location is writable (mounted read-write, not full)",
        ) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 300, 0).decode(errors="replace").strip() or "a process that did not say"
            raise UserError(
                f"{directory} is being written by another backup ({holder})",
                hint=f"wait for it to finish and run again; its lock is {lock}",
            ) from None
        os.ftruncate(fd, 0)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}, {what}, since {stamp}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the flock; the file stays (removing it would race with a waiting run)


def check_places(archive: Path) -> None:
    """The archive and its checksum are regular files or absent (a directory there is an administrator's
    mistake the rename would trip over only after the whole backup)."""
    for path in (archive, checksum.side_file(archive)):
        if path.is_symlink() or (path.exists() and not path.is_file()):
            kind = "a directory" if path.is_dir() else "a symbolic link" if path.is_symlink() else "not a file"
            raise UserError(
                f"{path} is {kind}: the backup archive and its checksum are written there",
                hint=f"move {path} away and run again",
            )


def clear_leftovers(archive: Path) -> None:
    """What a killed run left (call with the lock held): its .partial goes; a .sha256.new whose archive was
    renamed in place becomes the .sha256, otherwise it goes."""
    for partial in sorted(archive.parent.glob(f"{archive.name}{PARTIAL}*")):
        partial.unlink(missing_ok=True)
        notice("removed %s, left by an interrupted run", partial)
    pending = _pending(archive)
    if not pending.is_file():
        return
    if archive.is_file() and _digest_in(pending) == checksum.sha256_file(archive):
        os.replace(pending, checksum.side_file(archive))
        notice("completed the checksum %s of %s, left by an interrupted run", checksum.side_file(archive), archive)
    else:
        pending.unlink()
        notice("removed %s, left by an interrupted run", pending)


def create_partial(archive: Path) -> int:
    """A new .partial, 0600 whatever the umask; returns its descriptor."""
    fd = os.open(partial_of(archive), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, ARCHIVE_MODE)
    os.fchmod(fd, ARCHIVE_MODE)  # the umask may have taken bits away; set exactly these
    return fd


def commit(archive: Path, digest: str) -> None:
    """The complete, flushed .partial replaces the archive, its checksum following (see the module text)."""
    pending = _pending(archive)
    try:
        atomic_write(pending, checksum.format_line(digest, archive.name).encode(), CHECKSUM_MODE)
    except OSError as exc:
        partial_of(archive).unlink(missing_ok=True)
        raise location_error(archive, exc) from exc
    # Back to back, without a flush between: the window in which only .sha256.new vouches for the archive is
    # as short as two system calls (verify and the next run still handle a kill there).
    os.replace(partial_of(archive), archive)
    os.replace(pending, checksum.side_file(archive))
    sync_directory(archive.parent)


def location_error(archive: Path, exc: OSError, *, committed: bool = False) -> UserError:
    """A write at the location failed (a full disk): a one-line error that says what is there now.
    committed: the new archive and its checksum are in place, a file beside them failed."""
    full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
    state = (
        f"{archive.name} and its checksum are complete, the directory record beside them is the previous one"
        if committed
        else "the previous backup is unchanged"
    )
    return UserError(
        f"cannot write the backup into {archive.parent}: {exc.strerror}",
        hint=("free space there (or exclude more with BACKUP_PROG_EXCLUDE); " if full else "") + state,
    )


def _digest_in(path: Path) -> str | None:
    try:
        return checksum.parse_line(path.read_text(errors="replace"), path)
    except (OSError, UserError):
        return None


def verify(archive: Path, observe: Callable[[bytes], None] | None = None) -> str:
    """The archive's sha256, checked against its .sha256 (or the .sha256.new of a commit cut short); a backup
    committed meanwhile by another run is read again, not called damaged."""
    check_places(archive)
    side = checksum.side_file(archive)
    if not side.exists() and not _pending(archive).exists():
        return checksum.verify(archive, observe)  # its message for a missing checksum
    expected = {_digest_in(side), _digest_in(_pending(archive))}
    actual = checksum.sha256_file(archive, observe)
    if actual in expected or actual in {_digest_in(side), _digest_in(_pending(archive))}:
        return actual
    return checksum.verify(archive)  # damaged (or a garbage checksum): its message
