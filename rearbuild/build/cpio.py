"""A reproducible writer for the kernel's initramfs format: "newc" cpio (magic 070701).

The rescue rootfs is a list of Entry records, never a directory on disk, so no root is needed for device
nodes or ownership. Writing is reproducible by construction:

- entries are sorted by the bytes of their path, and every parent directory precedes its children
  (missing parents are added as 0755 directories);
- uid and gid are 0, inode numbers are renumbered 1..n in that order;
- mtime follows SOURCE_DATE_EPOCH's "clamp" rule: an entry's own mtime is kept only when it is older than
  the epoch; an entry without an mtime (the normal case: the manifest does not carry host mtimes, and a
  host's mtimes would make the archive depend on when its packages were installed) gets the epoch itself.

Spec: the kernel's Documentation/driver-api/early-userspace/buffer-format.rst.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import BinaryIO

from rearbuild import newc
from rearbuild.errors import InternalError, UserError

# Chunk size for streaming file data: large enough for throughput, small enough for a 300 MB initrd.
CHUNK = 1 << 20


class Kind(Enum):
    """What an entry is; its behaviour is the S_IFMT type bits of the newc mode field."""

    DIRECTORY = "directory"
    FILE = "file"
    SYMLINK = "symlink"
    CHAR_DEVICE = "char-device"
    BLOCK_DEVICE = "block-device"
    FIFO = "fifo"

    @property
    def type_bits(self) -> int:
        return _TYPE_BITS[self]

    @property
    def is_device(self) -> bool:
        return self in (Kind.CHAR_DEVICE, Kind.BLOCK_DEVICE)

    @classmethod
    def from_mode(cls, mode: int) -> Kind:
        """The kind of an lstat() st_mode; sockets have no place in an initrd."""
        for kind, bits in _TYPE_BITS.items():
            if stat.S_IFMT(mode) == bits:
                return kind
        raise UserError(f"cannot put a file of type {stat.S_IFMT(mode):o} (socket?) into the initrd")


# S_IFMT values from <sys/stat.h> (inode(7)); newc stores them in c_mode as the kernel's struct stat does.
_TYPE_BITS: dict[Kind, int] = {
    Kind.DIRECTORY: stat.S_IFDIR,
    Kind.FILE: stat.S_IFREG,
    Kind.SYMLINK: stat.S_IFLNK,
    Kind.CHAR_DEVICE: stat.S_IFCHR,
    Kind.BLOCK_DEVICE: stat.S_IFBLK,
    Kind.FIFO: stat.S_IFIFO,
}


@dataclass(frozen=True)
class Entry:
    """One path of the rescue rootfs.

    path: relative image path ("usr/bin/sh"), no leading "/", no "." or ".." components.
    mode: permission bits only (0o7777 includes setuid/setgid/sticky).
    FILE: exactly one of source (a file on disk, read when written) or data (in-memory bytes).
    sha256/size: known in advance from the manifest; checked while writing, and used for the cache digest.
    link_group: entries with the same non-empty group are one inode (hard links), besides source files
      that already are the same inode on disk.
    mtime: clamped to the epoch; None means "the epoch".
    """

    path: str
    kind: Kind
    mode: int
    source: Path | None = None
    data: bytes | None = field(default=None, repr=False)
    target: str | None = None
    major: int = 0
    minor: int = 0
    sha256: str | None = None
    size: int | None = None
    link_group: str | None = None
    mtime: int | None = None

    def __post_init__(self) -> None:
        parts = self.path.split("/")
        if not self.path or self.path.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise InternalError(f"initrd path {self.path!r} is not a normalized relative path")
        if self.mode & ~0o7777:
            raise InternalError(f"{self.path}: mode {self.mode:o} has more than permission bits")
        is_file = self.kind is Kind.FILE
        if is_file and (self.source is None) == (self.data is None):
            raise InternalError(f"{self.path}: a regular file needs exactly one of source or data")
        if not is_file and (self.source is not None or self.data is not None or self.sha256 is not None):
            raise InternalError(f"{self.path}: only regular files have contents")
        if (self.kind is Kind.SYMLINK) != bool(self.target):
            raise InternalError(f"{self.path}: a symlink, and only a symlink, has a non-empty target")
        if (self.major or self.minor) and not self.kind.is_device:
            raise InternalError(f"{self.path}: only device nodes have major/minor numbers")
        if self.data is not None and self.size is not None and self.size != len(self.data):
            raise InternalError(f"{self.path}: size {self.size} does not match its {len(self.data)} bytes")
        if self.link_group is not None and not is_file:
            raise InternalError(f"{self.path}: only regular files can be hard links")

    # --- constructors for the usual cases -------------------------------------------------------------

    @classmethod
    def directory(cls, path: str, mode: int = 0o755) -> Entry:
        return cls(path, Kind.DIRECTORY, mode)

    @classmethod
    def file(
        cls,
        path: str,
        source: Path,
        mode: int = 0o644,
        *,
        sha256: str | None = None,
        size: int | None = None,
        link_group: str | None = None,
    ) -> Entry:
        return cls(path, Kind.FILE, mode, source=source, sha256=sha256, size=size, link_group=link_group)

    @classmethod
    def from_bytes(cls, path: str, data: bytes, mode: int = 0o644, *, link_group: str | None = None) -> Entry:
        return cls(path, Kind.FILE, mode, data=data, link_group=link_group)

    @classmethod
    def symlink(cls, path: str, target: str) -> Entry:
        # Symlink permissions are meaningless on Linux (symlink(7)); 0777 is what lstat() reports.
        return cls(path, Kind.SYMLINK, 0o777, target=target)

    @classmethod
    def device(cls, path: str, kind: Kind, major: int, minor: int, mode: int = 0o600) -> Entry:
        if not kind.is_device:
            raise InternalError(f"{path}: {kind.value} is not a device kind")
        return cls(path, kind, mode, major=major, minor=minor)

    @classmethod
    def fifo(cls, path: str, mode: int = 0o600) -> Entry:
        return cls(path, Kind.FIFO, mode)

    @classmethod
    def from_path(cls, path: str, source: Path) -> Entry:
        """An entry copying what lstat() says about source (its mtime is not used: see module doc)."""
        try:
            st = source.lstat()
        except FileNotFoundError as exc:
            raise UserError(f"{source} does not exist (wanted as /{path} in the initrd)") from exc
        kind = Kind.from_mode(st.st_mode)
        perm = stat.S_IMODE(st.st_mode)
        if kind is Kind.FILE:
            return cls.file(path, source, perm)
        if kind is Kind.SYMLINK:
            return cls.symlink(path, os.readlink(source))
        if kind.is_device:
            return cls.device(path, kind, os.major(st.st_rdev), os.minor(st.st_rdev), perm)
        return cls(path, kind, perm)

    @property
    def name(self) -> bytes:
        return os.fsencode(self.path)


@dataclass(frozen=True)
class Record:
    """An entry as it will be written: its inode number, link count, data size and mtime fixed."""

    entry: Entry
    ino: int
    nlink: int
    mtime: int
    size: int  # the size of the file's contents (also for hard links that carry no data here)
    carries_data: bool  # False for all but the last name of a hard-linked inode (newc convention)
    identity: str  # what the contents are, for the cache digest: a sha256, or a stat() fingerprint

    @property
    def payload_size(self) -> int:
        if self.entry.kind is Kind.SYMLINK:
            assert self.entry.target is not None
            return len(os.fsencode(self.entry.target))
        return self.size if self.carries_data else 0

    def header(self) -> bytes:
        e = self.entry
        name = e.name
        fields = (
            (self.ino, "ino"),
            (e.kind.type_bits | e.mode, "mode"),
            (0, "uid"),
            (0, "gid"),
            (self.nlink, "nlink"),
            (self.mtime, "mtime"),
            (self.payload_size, "filesize"),
            (0, "maj"),
            (0, "min"),
            (e.major, "rmaj"),
            (e.minor, "rmin"),
            (len(name) + 1, "namesize"),
            (0, "chksum"),
        )
        return newc.header(fields, name)


def _implicit_parents(entries: dict[bytes, Entry]) -> None:
    for name in list(entries):
        parts = name.split(b"/")[:-1]
        for i in range(1, len(parts) + 1):
            parent = b"/".join(parts[:i])
            existing = entries.get(parent)
            if existing is None:
                entries[parent] = Entry.directory(os.fsdecode(parent))
            elif existing.kind is not Kind.DIRECTORY:
                raise InternalError(f"{existing.path} is a {existing.kind.value} but has children")


def _link_key(entry: Entry) -> tuple[str, object] | None:
    """Which inode a file belongs to: its link group, else its source's (dev, ino); None if unknown."""
    if entry.link_group:
        return ("group", entry.link_group)
    if entry.source is not None:
        try:
            st = entry.source.stat()
        except FileNotFoundError:
            return None
        if st.st_nlink > 1:
            return ("inode", (st.st_dev, st.st_ino))
    return None


def _identity(entry: Entry) -> tuple[int, str]:
    """(size, content identity) of a regular file without reading it when the manifest knows its sha256."""
    if entry.data is not None:
        return len(entry.data), "sha256:" + hashlib.sha256(entry.data).hexdigest()
    assert entry.source is not None
    if entry.sha256 is not None and entry.size is not None:
        return entry.size, "sha256:" + entry.sha256
    try:
        st = entry.source.stat()
    except FileNotFoundError as exc:
        raise UserError(
            f"{entry.source} vanished before it could be packed as /{entry.path}",
            hint="collect the manifest again, or remove the file from it",
        ) from exc
    if not stat.S_ISREG(st.st_mode):
        raise UserError(f"{entry.source} (for /{entry.path}) is not a regular file")
    size = entry.size if entry.size is not None else st.st_size
    digest = entry.sha256 or f"{st.st_size}:{st.st_mtime_ns}:{st.st_dev}:{st.st_ino}"
    return size, f"stat:{os.fsencode(entry.source).hex()}:{digest}"


@dataclass(frozen=True)
class CpioArchive:
    """The planned archive: normalized records in write order. Plan once, then fingerprint and/or write."""

    records: tuple[Record, ...]

    @classmethod
    def plan(cls, entries: Iterable[Entry], epoch: int) -> CpioArchive:
        """Sort, add parents, dedupe, group hard links and number inodes. epoch: SOURCE_DATE_EPOCH."""
        by_name: dict[bytes, Entry] = {}
        for entry in entries:
            old = by_name.setdefault(entry.name, entry)
            if old != entry:
                raise InternalError(f"/{entry.path} is listed twice with different contents: {old} != {entry}")
        _implicit_parents(by_name)
        ordered = [by_name[name] for name in sorted(by_name)]

        groups: dict[tuple[str, object], list[int]] = {}
        for index, entry in enumerate(ordered):
            if entry.kind is Kind.FILE and (key := _link_key(entry)) is not None:
                groups.setdefault(key, []).append(index)
        group_of: dict[int, list[int]] = {}
        for members in groups.values():
            for index in members:
                group_of[index] = members

        subdirs: dict[bytes, int] = {}
        for entry in ordered:
            if entry.kind is Kind.DIRECTORY and b"/" in entry.name:
                parent = entry.name.rsplit(b"/", 1)[0]
                subdirs[parent] = subdirs.get(parent, 0) + 1

        records: list[Record] = []
        inode_of: dict[int, int] = {}  # first member index of a link group -> its inode number
        next_ino = 1
        for index, entry in enumerate(ordered):
            members = group_of.get(index, [index])
            first = members[0]
            if first in inode_of:
                ino = inode_of[first]
            else:
                ino = inode_of[first] = next_ino
                next_ino += 1
            mtime = epoch if entry.mtime is None else min(entry.mtime, epoch)
            size, identity = 0, ""
            if entry.kind is Kind.FILE:
                size, identity = _identity(entry)
                head = ordered[first]
                if (entry.mode, entry.mtime) != (head.mode, head.mtime):
                    raise InternalError(f"hard links /{head.path} and /{entry.path} differ in mode or mtime")
                if size > newc.FIELD_MAX:
                    raise UserError(f"{entry.source}: newc cpio cannot hold files of 4 GiB or more")
            nlink = 2 + subdirs.get(entry.name, 0) if entry.kind is Kind.DIRECTORY else len(members)
            records.append(Record(entry, ino, nlink, mtime, size, index == members[-1], identity))
        return cls(tuple(records))

    @property
    def size(self) -> int:
        """The exact number of bytes write() produces."""
        total = 0
        for record in self.records:
            total += len(record.header()) + record.payload_size + newc.pad(record.payload_size)
        total += _trailer_length()
        return total + newc.pad(total, newc.BLOCK)

    def fingerprint(self) -> str:
        """A sha256 over everything that decides the archive's bytes, without reading any file."""
        h = hashlib.sha256(b"rearbuild-newc-1\0")
        for record in self.records:
            e = record.entry
            h.update(record.header())
            h.update(b"%d\0%s\0" % (record.size, record.identity.encode()))
            if e.target is not None:
                h.update(os.fsencode(e.target) + b"\0")
        return h.hexdigest()

    def write(self, out: BinaryIO) -> int:
        """Write the archive to out; returns the number of bytes written."""
        written = 0
        for record in self.records:
            header = record.header()
            out.write(header)
            written += len(header)
            payload = record.payload_size
            if record.entry.kind is Kind.SYMLINK:
                assert record.entry.target is not None
                out.write(os.fsencode(record.entry.target))
            elif payload and record.entry.data is not None:
                out.write(record.entry.data)
            elif payload:
                _copy_source(record, out)
            out.write(b"\0" * newc.pad(payload))
            written += payload + newc.pad(payload)
        trailer = _TRAILER
        out.write(trailer)
        written += len(trailer)
        tail = newc.pad(written, newc.BLOCK)
        out.write(b"\0" * tail)
        return written + tail


_TRAILER = newc.trailer()


def _trailer_length() -> int:
    return len(_TRAILER)


def _copy_source(record: Record, out: BinaryIO) -> None:
    """Stream a source file into out, checking it is still what the plan (and the manifest) said."""
    entry = record.entry
    source = entry.source
    assert source is not None
    where = f"{source} (for /{entry.path})"
    hint = "the file changed while the initrd was built; collect again and rebuild"
    try:
        f = source.open("rb")
    except FileNotFoundError as exc:
        raise UserError(f"{where} vanished while the initrd was written", hint=hint) from exc
    except OSError as exc:
        raise UserError(f"cannot read {where}: {exc.strerror}") from exc
    with f:
        hasher = hashlib.sha256() if entry.sha256 is not None else None
        remaining = record.size
        while remaining:
            chunk = f.read(min(CHUNK, remaining))
            if not chunk:
                raise UserError(f"{where} shrank below {record.size} bytes while it was packed", hint=hint)
            if hasher is not None:
                hasher.update(chunk)
            out.write(chunk)
            remaining -= len(chunk)
        if f.read(1):
            raise UserError(f"{where} grew beyond {record.size} bytes while it was packed", hint=hint)
    if hasher is not None and hasher.hexdigest() != entry.sha256:
        raise UserError(f"{where} does not match the sha256 in the manifest", hint=hint)


def write_cpio(entries: Sequence[Entry] | Iterable[Entry], out: BinaryIO, epoch: int) -> int:
    """Plan and write a newc archive of entries to out; returns its length in bytes."""
    return CpioArchive.plan(entries, epoch).write(out)
