"""The recovery target (/mnt/local, or the --demo directory) and what is written below it: nothing rearbuild
writes there may leave it through a symbolic link, as root (issue 9 item 4).

Two guards, one per writer:

tar      extracts with the host's path resolution, and GNU tar's own protections cover only what the archive
         holds (names with .. or a leading /, and a link then a file through it: its links are made at the end).
         A link that is already in the target when tar starts is followed when it is a parent of a member that
         is not itself in the archive (tested with GNU tar 1.34: --keep-directory-symlink, --no-overwrite-dir,
         --unlink-first and --recursive-unlink all write through `var -> /elsewhere` for a member var/log/a; a
         member var/ replaces the link by default, follows it with --keep-directory-symlink). So before tar
         runs, check_before_restore() refuses a target that holds links leading out of it.
rearbuild  recreating directories, copying the recovery log, patching files, the chroot's bind mounts: after
         the restore the target holds the restored system's own links (e.g. /var/run -> /run), which point into
         the recovered system, not into the rescue system. Each path is resolved as a chroot of the target
         would resolve it: component by component with O_NOFOLLOW, a link's target read and followed below the
         root (an absolute one from the root, .. never above it). Nothing resolved so can leave the target.
         (collect/ldso/tree.py reads a tree the same way, by path, for the rescue image; this is for writing,
         by file descriptor, so that the directory written into is the one that was resolved.)
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from rearbuild.errors import UserError
from rearbuild.recover.options import RecoverOptions

log = logging.getLogger("rearbuild.recover")

# Linux follows at most 40 symbolic links in one path resolution (path_resolution(7), MAXSYMLINKS); a loop of
# links in the restored system stops here as it would there.
MAX_LINKS = 40

# What the chroot steps bind from the rescue system (recover/chroot.py): a leftover bind mount is not part of
# the target and is not searched for links.
_BOUND = ("dev", "proc", "sys", "run")

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class Directory:
    """An open directory below the target: fd for the *at() calls, path (links resolved) for messages."""

    fd: int
    path: Path


def _parts(relative: str | PurePosixPath) -> list[str]:
    return [p for p in str(relative).split("/") if p not in ("", ".")]


class _Walk:
    """A resolution in progress: a stack of open directories from the root, and the links followed so far."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.fds = [os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)]
        self.names: list[str] = []
        self.links = 0

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []

    @property
    def path(self) -> Path:
        return self.root.joinpath(*self.names)

    def up(self) -> None:
        if len(self.fds) > 1:  # .. of the root is the root, as in a chroot
            os.close(self.fds.pop())
            self.names.pop()

    def link(self, name: str) -> list[str] | None:
        """The components a link named name stands for (the walk restarted at the root for an absolute one),
        or None when name is no link."""
        try:
            st = os.lstat(name, dir_fd=self.fds[-1])
        except FileNotFoundError:
            return None
        if not stat.S_ISLNK(st.st_mode):
            return None
        self.links += 1
        if self.links > MAX_LINKS:
            raise OSError(errno.ELOOP, "too many levels of symbolic links", str(self.path / name))
        text = os.readlink(name, dir_fd=self.fds[-1])
        if text.startswith("/"):
            while len(self.fds) > 1:
                self.up()
        return _parts(text)

    def enter(self, name: str, *, create: bool, mode: int) -> None:
        """Step into the directory name (made when missing and create is set)."""
        while True:
            try:
                fd = os.open(name, _DIR_FLAGS, dir_fd=self.fds[-1])
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):  # made meanwhile: open it
                    os.mkdir(name, mode, dir_fd=self.fds[-1])
                continue
            self.fds.append(fd)
            self.names.append(name)
            return


def _walk_to(
    walk: _Walk, relative: str | PurePosixPath, *, create: bool, mode: int, leave_last: bool = False
) -> str | None:
    """Enter every directory of relative below walk's root, following links inside it. leave_last: the last name
    (once every link is followed) is returned instead of entered, for a path that need not be a directory."""
    todo = deque(_parts(relative))
    while todo:
        name = todo.popleft()
        if name == "..":
            walk.up()
            continue
        target = walk.link(name)
        if target is not None:
            todo.extendleft(reversed(target))
            continue
        if leave_last and not todo:
            return name
        walk.enter(name, create=create, mode=mode)
    return None


def locate(root: Path, relative: str | PurePosixPath) -> Path | None:
    """Where relative is in the recovered system at root, every link (the last one too) followed inside root as a
    chroot of root would: a path below root with no link in it, or None when nothing is there. For reading what
    the restored system holds (its boot loader, its kernels) rather than what the rescue system holds."""
    walk = _Walk(root)
    try:
        last = _walk_to(walk, relative, create=False, mode=0, leave_last=True)
        if last is None:
            return walk.path
        os.lstat(last, dir_fd=walk.fds[-1])
        return walk.path / last
    except OSError:  # missing, a file on the way, a loop of links
        return None
    finally:
        walk.close()


@contextlib.contextmanager
def directory(
    root: Path, relative: str | PurePosixPath, *, create: bool = False, mode: int = 0o755
) -> Iterator[Directory]:
    """The directory relative below root, resolved as in a chroot of root and open for the block; with create,
    missing directories on the way are made with mode (less the umask), as mkdir -p does."""
    walk = _Walk(root)
    try:
        _walk_to(walk, relative, create=create, mode=mode)
        yield Directory(walk.fds[-1], walk.path)
    finally:
        walk.close()


@contextlib.contextmanager
def parent(root: Path, relative: str | PurePosixPath, *, create: bool = False) -> Iterator[tuple[Directory, str]]:
    """The directory holding relative (resolved as in a chroot of root, made with create) and the last name,
    which the caller opens, makes or replaces itself with dir_fd and O_NOFOLLOW."""
    parts = _parts(relative)
    if not parts or parts[-1] == "..":
        raise ValueError(f"{relative!r} names no entry below the target")
    with directory(root, "/".join(parts[:-1]), create=create) as where:
        yield where, parts[-1]


def write_file(root: Path, relative: str | PurePosixPath, data: bytes, *, mode: int = 0o600) -> Path:
    """Write data to relative below root, in a new file renamed into place: a link or a hard link there is
    replaced, never written through. Returns the file's path (links resolved)."""
    with parent(root, relative, create=True) as (where, name):
        temporary = f".{name}.rearbuild-{os.getpid()}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode,
                     dir_fd=where.fd)  # fmt: skip
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.rename(temporary, name, src_dir_fd=where.fd, dst_dir_fd=where.fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=where.fd)
            raise
        return where.path / name


# ---- before tar runs --------------------------------------------------------------------------------------------


def _below(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _open_to_others(st: os.stat_result) -> bool:
    return st.st_uid not in (0, os.geteuid()) or bool(st.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


@dataclass(frozen=True)
class Hazards:
    """What in a target could lead a restore (tar, as root) out of it."""

    # links leading out of it as the host resolves them (as tar does), with where they lead; dangling ones
    # count too: what they name may exist by the time something follows them
    links: tuple[tuple[Path, str], ...] = ()
    # directories (the target too) other users can write: they could plant such a link while the restore runs
    open_dirs: tuple[Path, ...] = ()


def hazards(root: Path) -> Hazards:
    real_root = os.path.realpath(root)
    links: list[tuple[Path, str]] = []
    open_dirs: list[Path] = [root] if _open_to_others(os.stat(root)) else []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if here == root:
            dirnames[:] = [d for d in dirnames if not (d in _BOUND and os.path.ismount(here / d))]
        for name in [*dirnames, *filenames]:
            path = here / name
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                leads = os.path.realpath(path)
                if not _below(leads, real_root):
                    links.append((path, leads))
            elif stat.S_ISDIR(st.st_mode) and _open_to_others(st):
                open_dirs.append(path)
    return Hazards(tuple(sorted(links)), tuple(sorted(open_dirs)))


def _more(count: int) -> str:
    return f" and {count - 1} more (listed in the log)" if count > 1 else ""


def check_before_restore(root: Path, *, demo: bool) -> None:
    """Refuse a target the restore could be led out of: links leading out of it, and in a --demo directory
    directories other users can write. (/mnt/local is in the rescue system, where nobody else works.)"""
    found = hazards(root)
    if demo and found.open_dirs:
        for path in found.open_dirs:
            log.info("other users can write into %s", path)
        first = found.open_dirs[0]
        st = os.stat(first)
        raise UserError(
            f"refusing to restore into {root}: {first} can be written by other users (owner uid {st.st_uid}, "
            f"mode {stat.S_IMODE(st.st_mode):04o}){_more(len(found.open_dirs))}, who could plant a link out of it "
            "while the restore runs",
            hint="nothing was written; restore into a new directory only you can write, e.g. --demo /root/demo",
        )
    if not found.links:
        return
    for path, leads in found.links:
        log.info("link out of the target: %s -> %s", path, leads)
    first, leads = found.links[0]
    where = "restore into a new, empty directory" if demo else f"mount only the recreated file systems at {root}"
    raise UserError(
        f"refusing to restore into {root}: {root} holds symbolic links leading out of it, which the restore would "
        f"write through: {first} -> {leads}{_more(len(found.links))}",
        hint=f"nothing was written; {where}, or remove those links",
    )


def restore_target(options: RecoverOptions) -> Path:
    """Where a backup method restores to, checked before anything is written: a --demo directory (made when
    missing), else the recreated file systems mounted at the target root; check_before_restore's refusals too."""
    target = options.target_root
    if options.demo:
        target.mkdir(mode=0o755, parents=True, exist_ok=True)
    elif not os.path.ismount(target):
        raise UserError(
            f"nothing is mounted at {target}: the restore writes into the recreated file systems mounted there",
            hint="run rearbuild recover (which recreates and mounts them), mount them yourself for restoreonly, "
            "or use --demo DIR",
        )
    check_before_restore(target, demo=options.demo)
    return target
