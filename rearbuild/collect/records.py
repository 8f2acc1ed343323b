"""Turning host paths into manifest records, symlinks kept as symlinks.

A path like /lib/x86_64-linux-gnu/libc.so.6 on a merged-/usr system crosses the symlink /lib -> usr/lib; the
rescue image must contain that symlink and the file at its real place, or programs asking for the old path fail.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable

from rearbuild.collect.hashcache import HashCache
from rearbuild.collect.kmod.image import KernelModules
from rearbuild.collect.ldso.disk import DiskTree
from rearbuild.collect.ldso.tree import Symlink
from rearbuild.manifest import EntryKind, FileRecord


class RecordMaker:
    """Makes records for paths of one sysroot (the host, or a mounted system), hashing through a cache."""

    def __init__(self, tree: DiskTree, hashes: HashCache) -> None:
        self.tree = tree
        self.hashes = hashes

    def host(self, path: str) -> str:
        return self.tree.host_path(path)

    def symlinks(self, links: Iterable[Symlink], reason: str) -> list[FileRecord]:
        return [
            FileRecord(path=s.path, kind=EntryKind.SYMLINK, mode=0o777, target=s.target, reasons=(reason,))
            for s in links
        ]

    def real(self, real_path: str, reason: str, st: os.stat_result | None = None) -> FileRecord | None:
        """The record of a symlink-free path: a file with its hash, a directory, or None for anything else
        (devices, sockets and fifos of a host are not copied; the rescue system makes its own)."""
        source = self.host(real_path)
        try:
            st = st or os.lstat(source)
        except OSError:
            return None
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISREG(st.st_mode):
            try:
                digest = self.hashes.sha256(source, st)
            except OSError:
                return None  # unreadable (a host like the test machine forbids some files): leave it out
            return FileRecord(
                path=real_path,
                kind=EntryKind.FILE,
                mode=mode,
                source=source,
                size=st.st_size,
                sha256=digest,
                reasons=(reason,),
            )
        if stat.S_ISDIR(st.st_mode):
            return FileRecord(path=real_path, kind=EntryKind.DIR, mode=mode, reasons=(reason,))
        if stat.S_ISLNK(st.st_mode):
            return FileRecord(
                path=real_path, kind=EntryKind.SYMLINK, mode=0o777, target=os.readlink(source), reasons=(reason,)
            )
        return None

    def placed(self, source: str, image_path: str, reason: str, mode: int | None = None) -> list[FileRecord]:
        """A file whose content comes from `source` but lives at `image_path` in the image (generated files,
        or a host file under another name): the image path's directories resolved like the host's, so that
        /lib/modules/... lands in usr/lib/modules/... where /lib is a symlink. `mode` fixes the permissions
        of files rearbuild generated itself (their mode on disk depends on the umask of the run)."""
        parent = self.tree.resolve(os.path.dirname(image_path))
        directory, links = (
            (parent.real_path, parent.symlinks) if parent is not None else (os.path.dirname(image_path), ())
        )
        record = self.real_source(source, directory.rstrip("/") + "/" + os.path.basename(image_path), reason, mode)
        return [*self.symlinks(links, reason), *([record] if record else [])]

    def real_source(self, source: str, image_path: str, reason: str, mode: int | None = None) -> FileRecord | None:
        try:
            st = os.stat(source)
            digest = self.hashes.sha256(source, st)
        except OSError:
            return None
        return FileRecord(
            path=image_path,
            kind=EntryKind.FILE,
            mode=stat.S_IMODE(st.st_mode) if mode is None else mode,
            source=source,
            size=st.st_size,
            sha256=digest,
            reasons=(reason,),
        )

    def path(self, path: str, reason: str) -> list[FileRecord]:
        """A path as the host resolves it: the symlinks crossed, then what it leads to. [] if it leads nowhere."""
        resolved = self.tree.resolve(path)
        if resolved is None:
            # A dangling symlink is still copied as a symlink (tar semantics, as ReaR's COPY_AS_IS).
            try:
                if stat.S_ISLNK(os.lstat(self.host(path)).st_mode):
                    parent = self.tree.resolve(os.path.dirname(path))
                    if parent is not None:
                        link = parent.real_path.rstrip("/") + "/" + os.path.basename(path)
                        target = os.readlink(self.host(path))
                        return [
                            *self.symlinks(parent.symlinks, reason),
                            FileRecord(path=link, kind=EntryKind.SYMLINK, mode=0o777, target=target, reasons=(reason,)),
                        ]
            except OSError:
                pass
            return []
        final = self.real(resolved.real_path, reason)
        return [*self.symlinks(resolved.symlinks, reason), *([final] if final else [])]


def kernel_module_records(maker: RecordMaker, chosen: KernelModules) -> list[FileRecord]:
    """The records of the chosen modules, their firmware (symlinks kept) and the generated module indexes."""
    records: list[FileRecord] = []
    for module in chosen.modules:
        records += maker.path(str(module.source), f"module {module.name}: {module.reason}")
    for firmware in chosen.firmware:
        reason = "firmware" + (f" of {', '.join(firmware.needed_by)}" if firmware.needed_by else " (FIRMWARE_FILES)")
        if firmware.link is not None:
            records += maker.path("/" + str(firmware.target), reason)
        else:
            records += maker.placed(str(firmware.source), "/" + str(firmware.target), reason)
    for index in chosen.index_files:
        # generated files: their mode on disk depends on the umask of the run that made them
        records += maker.placed(
            str(index.source), "/" + str(index.target), "module index for the chosen modules", 0o644
        )
    return records
