"""A rescue rootfs that exists only as a plan (image path -> host source file or symlink), seen as a tree."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from rearbuild.collect.elf import ElfInfo, parse_elf
from rearbuild.collect.ldso.tree import FileKind, Tree


@dataclass(frozen=True)
class ImageLink:
    """In a composed rootfs mapping: the image path is a symlink with this target."""

    target: str


class MappedTree(Tree):
    """A rescue rootfs that exists only as a plan: {image path: source file on the host, or ImageLink}.
    Directories are implied by the paths below them."""

    def __init__(self, entries: Mapping[str, str | ImageLink]) -> None:
        super().__init__()
        self.entries = {os.path.normpath("/" + p.lstrip("/")): v for p, v in entries.items()}
        self._children: dict[str, set[str]] = {"/": set()}
        for path in self.entries:
            child = path
            while child != "/":
                parent = os.path.dirname(child)
                self._children.setdefault(parent, set()).add(os.path.basename(child))
                child = parent

    def _lkind(self, path: str) -> FileKind:
        entry = self.entries.get(path)
        if isinstance(entry, ImageLink):
            return FileKind.SYMLINK
        if entry is not None:
            return FileKind.FILE
        return FileKind.DIR if path in self._children else FileKind.MISSING

    def readlink(self, path: str) -> str:
        entry = self.entries[path]
        assert isinstance(entry, ImageLink)
        return entry.target

    def listdir(self, real_path: str) -> list[str]:
        return sorted(self._children.get(real_path, ()))

    def _source(self, real_path: str) -> str:
        entry = self.entries[real_path]
        assert isinstance(entry, str)
        return entry

    def read_bytes(self, real_path: str) -> bytes | None:
        try:
            with open(self._source(real_path), "rb") as f:
                return f.read()
        except OSError:
            return None

    def is_executable(self, real_path: str) -> bool:
        try:
            return bool(os.stat(self._source(real_path)).st_mode & 0o111)
        except OSError:
            return False

    def _parse_elf(self, real_path: str) -> ElfInfo | None:
        return parse_elf(self._source(real_path))
