"""A read-only file tree seen from its root, and what a path lookup inside it crosses.

Every path here is an image path: absolute, inside the tree ("sysroot"); absolute symlink targets are read
relative to the tree's root, as the rescue system (or a chroot) will see them.
"""

from __future__ import annotations

import enum
import fnmatch
import os
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass

from rearbuild.collect.elf import ElfError, ElfInfo

# Linux limits a path lookup to 40 symlinks (path_resolution(7), MAXSYMLINKS); ld.so gets ELOOP past it.
MAX_SYMLINKS = 40


class FileKind(enum.Enum):
    MISSING = "missing"
    FILE = "file"
    DIR = "directory"
    SYMLINK = "symlink"
    OTHER = "other"


@dataclass(frozen=True)
class Symlink:
    """A symlink on the way to a file: `path` (an image path whose parent has no symlinks) -> `target`
    (exactly what readlink returns). Recreating it in the rescue rootfs reproduces the lookup."""

    path: str
    target: str


@dataclass(frozen=True)
class ResolvedPath:
    """Where a path leads: the symlink-free path and the symlinks crossed, in lookup order. (The path
    looked up is not kept: every caller has it, and Tree.resolve caches by it.)"""

    real_path: str
    kind: FileKind
    symlinks: tuple[Symlink, ...]


class Tree(ABC):
    """A read-only file tree seen from its root, with the lookups the resolver needs (cached)."""

    def __init__(self) -> None:
        self._kinds: dict[str, FileKind] = {}
        self._resolved: dict[str, ResolvedPath | None] = {}
        self._elf: dict[str, ElfInfo | ElfError | None] = {}

    @abstractmethod
    def _lkind(self, path: str) -> FileKind: ...

    @abstractmethod
    def readlink(self, path: str) -> str: ...

    @abstractmethod
    def listdir(self, real_path: str) -> list[str]: ...

    @abstractmethod
    def read_bytes(self, real_path: str) -> bytes | None: ...

    @abstractmethod
    def is_executable(self, real_path: str) -> bool: ...

    @abstractmethod
    def _parse_elf(self, real_path: str) -> ElfInfo | None: ...

    def kind(self, path: str) -> FileKind:
        """The kind of `path` itself (lstat: a symlink is a symlink). The parent must be symlink-free."""
        k = self._kinds.get(path)
        if k is None:
            k = self._kinds[path] = self._lkind(path)
        return k

    def resolve(self, path: str) -> ResolvedPath | None:
        """Follow `path` like the kernel would inside this tree; None if it does not lead anywhere."""
        if path in self._resolved:
            return self._resolved[path]
        result = self._walk(path)
        self._resolved[path] = result
        return result

    def _walk(self, path: str) -> ResolvedPath | None:
        parts = deque(path.split("/"))
        cur = "/"
        kind = FileKind.DIR
        chain: list[Symlink] = []
        while parts:
            name = parts.popleft()
            if name in ("", "."):
                continue
            if kind is not FileKind.DIR:
                return None  # ENOTDIR
            if name == "..":
                cur = os.path.dirname(cur)
                continue
            candidate = cur.rstrip("/") + "/" + name
            kind = self.kind(candidate)
            if kind is FileKind.MISSING:
                return None
            if kind is FileKind.SYMLINK:
                if len(chain) >= MAX_SYMLINKS:
                    return None  # ELOOP
                target = self.readlink(candidate)
                chain.append(Symlink(candidate, target))
                if target.startswith("/"):
                    cur = "/"
                parts.extendleft(reversed(target.split("/")))
                kind = FileKind.DIR  # the components of the target are looked up from `cur`
                continue
            cur = candidate
        return ResolvedPath(cur, kind, tuple(chain))

    def elf(self, real_path: str) -> ElfInfo | None:
        """Parsed ELF facts of a regular file (None: not ELF). Raises ElfError for corrupt files."""
        if real_path not in self._elf:
            try:
                self._elf[real_path] = self._parse_elf(real_path)
            except ElfError as exc:
                self._elf[real_path] = exc
        cached = self._elf[real_path]
        if isinstance(cached, ElfError):
            raise cached
        return cached

    def is_dir(self, path: str) -> bool:
        r = self.resolve(path)
        return r is not None and r.kind is FileKind.DIR

    def read_text(self, path: str) -> str | None:
        r = self.resolve(path)
        if r is None or r.kind is not FileKind.FILE:
            return None
        data = self.read_bytes(r.real_path)
        return None if data is None else data.decode("utf-8", "replace")

    def glob(self, pattern: str) -> list[str]:
        """Absolute glob inside the tree, sorted like glob(3) (ldconfig's include uses glob)."""
        found = ["/"]
        for part in [p for p in pattern.split("/") if p]:
            nxt = []
            for base in found:
                prefix = base.rstrip("/") + "/"
                if not any(c in part for c in "*?["):
                    if self.resolve(prefix + part) is not None:
                        nxt.append(prefix + part)
                    continue
                r = self.resolve(base)
                if r is None or r.kind is not FileKind.DIR:
                    continue
                names = sorted(n for n in self.listdir(r.real_path) if not n.startswith("."))
                nxt.extend(prefix + n for n in names if fnmatch.fnmatchcase(n, part))
            found = nxt
        return sorted(found)
