"""A directory on disk seen as a root file system (the running host, or a sysroot)."""

from __future__ import annotations

import os
import stat

from rearbuild.collect.elf import ElfInfo, parse_elf
from rearbuild.collect.ldso.tree import FileKind, ResolvedPath, Tree
from rearbuild.errors import UserError

# ELF facts per file identity, shared by every DiskTree: a file under many names or in many sysroots is
# read once. The key includes size and mtime so that a rebuilt file is read again.
_ELF_BY_INODE: dict[tuple[int, int, int, int], ElfInfo | None] = {}


class DiskTree(Tree):
    """A directory on disk seen as a root file system (`/` for the running host)."""

    def __init__(self, sysroot: str | os.PathLike[str] = "/") -> None:
        super().__init__()
        root = os.path.abspath(os.fspath(sysroot))
        if not os.path.isdir(root):
            raise UserError(f"sysroot {root} is not a directory", hint="give the root of an installed system")
        self.sysroot = root
        self._prefix = "" if root == "/" else root

    def host_path(self, path: str) -> str:
        return self._prefix + path

    def _lkind(self, path: str) -> FileKind:
        try:
            mode = os.lstat(self._prefix + path).st_mode
        except OSError:
            return FileKind.MISSING
        if stat.S_ISLNK(mode):
            return FileKind.SYMLINK
        if stat.S_ISDIR(mode):
            return FileKind.DIR
        return FileKind.FILE if stat.S_ISREG(mode) else FileKind.OTHER

    def readlink(self, path: str) -> str:
        return os.readlink(self._prefix + path)

    def listdir(self, real_path: str) -> list[str]:
        try:
            return os.listdir(self._prefix + real_path)
        except OSError:
            return []

    def read_bytes(self, real_path: str) -> bytes | None:
        try:
            with open(self._prefix + real_path, "rb") as f:
                return f.read()
        except OSError:
            return None

    def is_executable(self, real_path: str) -> bool:
        try:
            return bool(os.stat(self._prefix + real_path).st_mode & 0o111)
        except OSError:
            return False

    def _parse_elf(self, real_path: str) -> ElfInfo | None:
        host = self._prefix + real_path
        try:
            st = os.stat(host)
        except OSError:
            return None
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        if key not in _ELF_BY_INODE:
            _ELF_BY_INODE[key] = parse_elf(host)
        return _ELF_BY_INODE[key]


def resolve_path(path: str, sysroot: str = "/") -> ResolvedPath | None:
    """Follow path inside sysroot, listing the symlinks crossed; None if it leads nowhere."""
    return DiskTree(sysroot).resolve(path)
