"""Mount points and the top-level directories a backup may not contain (excluded, or mount points of file
systems left out), with their modes and owners, recorded at backup time and recreated after the restore when
they are missing (ReaR: prep/default/400_save_directories.sh writes recovery/directories_permissions_owner_group,
restore/default/900_create_missing_directories.sh reads it).

One line per path, sorted so that parents come first: `<path> <octal mode> <uid> <gid>` for a directory,
`<path> -> <target>` for a symbolic link (e.g. /bin -> usr/bin on merged-/usr systems). Owners are numeric:
names would be resolved against the rescue system's /etc/passwd, not the recovered one's.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from rearbuild.atomicfile import atomic_write
from rearbuild.errors import UserError
from rearbuild.recover import target

log = logging.getLogger("rearbuild.backup")

FILE_NAME = "directories_permissions_owner_group"

# The FHS top level (ReaR's list in 400_save_directories.sh, trimmed to what exists on Linux systems).
FHS_DIRECTORIES = (
    "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/media", "/mnt", "/opt",
    "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var",
)  # fmt: skip


@dataclass(frozen=True)
class DirEntry:
    path: str
    mode: int = 0o755
    uid: int = 0
    gid: int = 0
    link_target: str | None = None

    def line(self) -> str:
        if self.link_target is not None:
            return f"{self.path} -> {self.link_target}"
        return f"{self.path} {self.mode:04o} {self.uid} {self.gid}"

    @classmethod
    def parse(cls, line: str, source: str) -> DirEntry:
        words = line.split()
        try:
            if len(words) == 3 and words[1] == "->":
                return cls(_checked_path(words[0]), link_target=words[2])
            if len(words) != 4:
                raise ValueError(line)
            mode, uid, gid = int(words[1], 8), int(words[2]), int(words[3])
            if not 0 <= mode <= _MAX_MODE or not 0 <= uid < _NO_ID or not 0 <= gid < _NO_ID:
                raise ValueError(line)
            return cls(_checked_path(words[0]), mode, uid, gid)
        except ValueError:
            raise UserError(
                f"{source}: cannot read the line {line!r}",
                hint="<absolute path> <octal mode up to 7777> <uid> <gid>, or <absolute path> -> <target>",
            ) from None


_MAX_MODE = 0o7777  # permission bits with setuid, setgid and sticky (chmod(2)); the file type is not recorded
_NO_ID = 2**32 - 1  # uid_t/gid_t are 32 bits and (uid_t)-1 means "leave unchanged" to chown(2)


def _checked_path(path: str) -> str:
    """An absolute path without .. components: it is joined below the restore target."""
    if not path.startswith("/") or ".." in PurePosixPath(path).parts or "\0" in path:
        raise ValueError(path)
    return path


def record(paths: Iterable[str], root: Path = Path("/")) -> tuple[DirEntry, ...]:
    """Stat each existing path (below root); directories and symbolic links only."""
    entries: dict[str, DirEntry] = {}
    for path in paths:
        if not path.startswith("/") or path == "/":
            continue
        real = root / path.lstrip("/")
        try:
            st = os.lstat(real)
        except OSError:
            continue
        if stat.S_ISLNK(st.st_mode):
            entries[path] = DirEntry(path, link_target=os.readlink(real))
        elif stat.S_ISDIR(st.st_mode):
            entries[path] = DirEntry(path, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
    return tuple(entries[p] for p in sorted(entries))


def write(entries: Iterable[DirEntry], path: Path) -> None:
    """Written whole or not at all (a full disk, a concurrent run), like the archive it goes with."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, "".join(e.line() + "\n" for e in entries).encode())


def read(path: Path) -> tuple[DirEntry, ...]:
    try:
        text = path.read_text()
    except (UnicodeDecodeError, IsADirectoryError) as exc:
        raise UserError(
            f"{path} is not a directory record ({exc})",
            hint="remove it: the restore then recreates no directories beyond what the archive holds",
        ) from None
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return tuple(DirEntry.parse(line, str(path)) for line in lines)


def parents_of(includes: Iterable[str]) -> tuple[str, ...]:
    """The directories above the includes: tar creates them on extraction with default modes, not archived ones."""
    found: set[str] = set()
    for include in includes:
        found.update(str(p) for p in PurePosixPath(include).parents if str(p) != "/")
    return tuple(sorted(found))


def _archived(path: str, includes: Iterable[str]) -> bool:
    return any(path == i or PurePosixPath(i) in PurePosixPath(path).parents for i in includes)


def _set_owner_mode(where: target.Directory, name: str, entry: DirEntry) -> None:
    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=where.fd)
    try:
        os.fchown(fd, entry.uid, entry.gid)
        os.fchmod(fd, entry.mode)  # after chown, which clears setuid/setgid bits
    finally:
        os.close(fd)


def _recreate(entry: DirEntry, where: target.Directory, name: str, archived: tuple[str, ...]) -> bool:
    """One entry in its (resolved) parent directory; True when it was made."""
    try:
        st = os.lstat(name, dir_fd=where.fd)
    except FileNotFoundError:
        pass
    else:
        if entry.link_target is None and stat.S_ISDIR(st.st_mode) and not _archived(entry.path, archived):
            _set_owner_mode(where, name, entry)
        return False
    if entry.link_target is not None:
        os.symlink(entry.link_target, name, dir_fd=where.fd)
    else:
        os.mkdir(name, 0o700, dir_fd=where.fd)
        _set_owner_mode(where, name, entry)
    return True


def recreate_missing(entries: Iterable[DirEntry], root: Path, includes: Iterable[str] | None = None) -> list[str]:
    """Create what is missing below root (the target) with its recorded mode and owner; returns the paths made.

    Paths are resolved as in a chroot of root (recover.target): a link the restored system holds, e.g.
    /var/run -> /run, leads to its /run, never out of root. What cannot be made is a warning.
    includes: what the archive held. A recorded directory outside all of them was not archived: if tar created
    it as the parent of an include, its mode and owner are set from the record as well.
    """
    archived = tuple(includes) if includes is not None else ("/",)
    created: list[str] = []
    for entry in sorted(entries, key=lambda e: e.path):
        try:
            with target.parent(root, entry.path, create=True) as (where, name):
                if _recreate(entry, where, name, archived):
                    created.append(entry.path)
                    log.info("recreated %s in %s", entry.line(), where.path)
        except (OSError, ValueError) as exc:
            log.warning("%s not recreated below %s: %s", entry.path, root, exc)
    return created
