"""Composing the rescue rootfs as a list of entries: nothing is copied into a directory, no root is needed.

Sources, later ones overriding earlier ones at the same path (ReaR copies its skeleton first and then the
host's files; rearbuild lets its own skeleton win over host copies, so e.g. the image's /etc/passwd is never the
host's):

1. the manifest's files (programs, libraries, modules, firmware, COPY_AS_IS, Python runtime),
2. the skel/ layers in layer order (default -> arch -> OS -> vendor -> version -> $BACKUP -> $OUTPUT),
3. files generated for this image (configuration, layout, the zipapp, ...).

A path that leads through a symlinked directory of the composed tree (skel's etc/... is fine, but a file at
lib/x where lib -> usr/lib) is placed at its real location, as extracting onto the tree would do.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from rearbuild.build.cpio import Entry, Kind
from rearbuild.errors import UserError
from rearbuild.manifest import EntryKind, Manifest

# Where each part of the image goes in the initrd: separate segments are cached and sized separately.
SEGMENT_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("modules", ("usr/lib/modules/", "lib/modules/")),
    ("firmware", ("usr/lib/firmware/", "lib/firmware/")),
    ("python", ("usr/lib/python3",)),
    ("rearbuild", ("usr/share/rear/",)),
    # What changes from build to build (the layout, the configuration, the network plan) in a small segment of
    # its own: a new loop device on the host must not make the 60 MB base segment compress again.
    ("config", ("etc/rear/", "etc/rear-release", "etc/hostname", "var/lib/rear/")),
)
SEGMENT_ORDER = ("base", "python", "rearbuild", "config", "modules", "firmware")


def segment_of(path: str) -> str:
    for name, prefixes in SEGMENT_RULES:
        if path.startswith(prefixes):
            return name
    return "base"


@dataclass
class Rootfs:
    """The rescue rootfs being composed: image path (relative) -> entry."""

    entries: dict[str, Entry]

    @classmethod
    def empty(cls) -> Rootfs:
        return cls({})

    def _real(self, path: str) -> str:
        """`path` with symlinked directories of the tree resolved (relative targets only, max 40 hops)."""
        parts = path.split("/")
        for _ in range(40):
            for i in range(1, len(parts)):
                prefix = "/".join(parts[:i])
                entry = self.entries.get(prefix)
                if entry is not None and entry.kind is Kind.SYMLINK and entry.target:
                    base = posixpath.dirname(prefix)
                    target = entry.target
                    joined = posixpath.normpath(
                        target.lstrip("/") if target.startswith("/") else posixpath.join(base, target)
                    )
                    parts = [*joined.split("/"), *parts[i:]]
                    break
            else:
                return "/".join(p for p in parts if p)
        raise UserError(f"too many symlinks on the way to /{path} in the rescue image")

    def add(self, entry: Entry) -> None:
        path = self._real(entry.path)
        if path != entry.path:
            entry = replace(entry, path=path)
        self.entries[path] = entry

    def extend(self, entries: Iterable[Entry]) -> None:
        for entry in entries:
            self.add(entry)

    def sorted_entries(self) -> list[Entry]:
        return [self.entries[p] for p in sorted(self.entries)]

    def segments(self) -> dict[str, list[Entry]]:
        groups: dict[str, list[Entry]] = {name: [] for name in SEGMENT_ORDER}
        for entry in self.sorted_entries():
            groups[segment_of(entry.path)].append(entry)
        return {name: entries for name, entries in groups.items() if entries}


def manifest_entries(
    manifest: Manifest, sources: Mapping[str, Path], links: Mapping[str, str] | None = None
) -> list[Entry]:
    """links: path -> hard link group, for sources that do not show it themselves (a bundle's objects)."""
    links = links or {}
    entries: list[Entry] = []
    for record in manifest.files:
        path = record.path.lstrip("/")
        match record.kind:
            case EntryKind.FILE:
                entries.append(
                    Entry.file(
                        path,
                        sources[record.path],
                        record.mode,
                        sha256=record.sha256,
                        size=record.size,
                        link_group=links.get(record.path),
                    )
                )
            case EntryKind.SYMLINK:
                entries.append(Entry.symlink(path, record.target or ""))
            case EntryKind.DIR:
                entries.append(Entry.directory(path, record.mode))
    return entries


_PRIVATE_FILES = frozenset({"shadow", "gshadow"})


def tree_entries(root: Path, prefix: str = "") -> list[Entry]:
    """A directory of the rearbuild package (a skel layer, conf/, recipes/) as entries under `prefix`.

    Modes do not come from the checkout, whose permissions follow the umask of whoever unpacked it: executables
    are 0755, password databases 0600, everything else 0644."""
    entries: list[Entry] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        rel_dir = os.path.relpath(dirpath, root)
        for name in sorted(dirnames):
            rel = posixpath.normpath(posixpath.join(prefix, rel_dir, name))
            entries.append(Entry.directory(rel, 0o755))
        for name in sorted(filenames):
            if name.endswith((".pyc", ".pyo")):
                continue
            source = Path(dirpath, name)
            rel = posixpath.normpath(posixpath.join(prefix, rel_dir, name))
            st = source.lstat()
            if os.path.islink(source):
                entries.append(Entry.symlink(rel, os.readlink(source)))
                continue
            mode = 0o755 if st.st_mode & 0o111 else (0o600 if name in _PRIVATE_FILES else 0o644)
            entries.append(Entry.file(rel, source, mode))
    return entries


def skel_entries(skel_dir: Path, layers: Sequence[str]) -> list[Entry]:
    entries: list[Entry] = []
    for layer in layers:
        directory = skel_dir / layer
        if directory.is_dir():
            entries.extend(tree_entries(directory))
    return entries


# Made by the init at boot, but the kernel needs /dev/console before init runs ("unable to open an initial
# console" otherwise): Documentation/driver-api/early-userspace/early_userspace_support.rst.
BASE_NODES = (
    Entry.device("dev/console", Kind.CHAR_DEVICE, 5, 1, 0o600),
    Entry.device("dev/null", Kind.CHAR_DEVICE, 1, 3, 0o666),
)
BASE_DIRS = ("proc", "sys", "dev", "run", "tmp", "mnt/local", "var/log/rear", "var/lib/rear", "root", "etc/rear")
