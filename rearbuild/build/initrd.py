"""The initrd: separately compressed newc segments, concatenated, with a content-addressed segment cache.

The kernel unpacks concatenated archives one after the other (init/initramfs.c, unpack_to_rootfs(); zero
bytes between them are skipped), so the rescue rootfs is split into segments that change at different
rates (base, kernel modules + firmware, python runtime, zipapp, as mkosi and ukify do). Each segment is
cached under the sha256 of everything that decides its bytes (CpioArchive.fingerprint(): paths, kinds,
modes, targets, device numbers, each file's sha256 when the manifest knows it, else size+mtime+inode) and
of the compressor command; an unchanged segment is reused without opening any of its files.
The cache is never pruned here: a whole cache directory can be removed at any time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import BinaryIO, cast

from rearbuild import newc
from rearbuild.build.compress import Compression
from rearbuild.build.cpio import CpioArchive, Entry
from rearbuild.build.rootfs import Rootfs
from rearbuild.errors import InternalError, UserError

log = logging.getLogger("rearbuild.build.initrd")
# The sizes reach the terminal once, as the size table of the pack stage (-v); each segment's line is for the log.
_LOG_ONLY = {"file_only": True}

# Bump when the segment file format or the fingerprint changes, to orphan old cache entries.
CACHE_VERSION = "1"


@dataclass(frozen=True)
class Segment:
    """One cpio archive of the initrd; name is for the size summary ("base", "modules", ...)."""

    name: str
    entries: tuple[Entry, ...]
    compression: Compression


@dataclass(frozen=True)
class SegmentSize:
    name: str
    compression: Compression
    digest: str
    entries: int
    uncompressed: int
    compressed: int
    cached: bool


@dataclass(frozen=True)
class InitrdResult:
    path: Path
    segments: tuple[SegmentSize, ...]

    @property
    def uncompressed(self) -> int:
        return sum(s.uncompressed for s in self.segments)

    @property
    def compressed(self) -> int:
        return sum(s.compressed for s in self.segments)

    def summary(self) -> list[str]:
        """Lines for the build summary: one per segment, biggest compressed size first, then the total."""
        lines = []
        for s in sorted(self.segments, key=lambda s: s.compressed, reverse=True):
            lines.append(
                f"{s.name:<12} {s.entries:>7} entries {_mib(s.uncompressed):>10} -> {_mib(s.compressed):>10}"
                f" {s.compression.value}{' (cached)' if s.cached else ''}"
            )
        lines.append(f"{'total':<12} {'':>15} {_mib(self.uncompressed):>10} -> {_mib(self.compressed):>10}")
        return lines


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB"


class BudgetAction(Enum):
    """What an initrd above its size budget does (mkosi's test_initrd_size; ReaR's ppc64 warning)."""

    WARN = "warn"
    FAIL = "fail"

    def enforce(self, message: str, hint: str) -> None:
        if self is BudgetAction.FAIL:
            raise UserError(message, hint=hint)
        log.warning("%s (%s)", message, hint)


def check_size_budget(result: InitrdResult, limit: int, action: BudgetAction = BudgetAction.WARN) -> bool:
    """True if the initrd fits in limit bytes; otherwise warn or fail, naming the biggest segments."""
    size = result.path.stat().st_size
    if size <= limit:
        return True
    biggest = sorted(result.segments, key=lambda s: s.compressed, reverse=True)[:3]
    names = ", ".join(f"{s.name} {_mib(s.compressed)}" for s in biggest)
    action.enforce(
        f"the initrd {result.path} is {_mib(size)}, above its budget of {_mib(limit)}; biggest: {names}",
        "drop modules, firmware or programs from the rescue system, or choose a stronger compression",
    )
    return False


def segment_digest(archive: CpioArchive, compression: Compression) -> str:
    h = hashlib.sha256(f"rearbuild-initrd-segment-{CACHE_VERSION}\0".encode())
    argv = compression.argv() if compression is not Compression.NONE else ()
    h.update("\0".join((compression.value, *argv)).encode() + b"\0")
    h.update(archive.fingerprint().encode())
    return h.hexdigest()


def _cached(cache_dir: Path, digest: str, compression: Compression) -> tuple[Path, dict[str, int]] | None:
    data_path = cache_dir / f"{digest}.cpio{compression.suffix}"
    meta_path = cache_dir / f"{digest}.json"
    try:
        meta = json.loads(meta_path.read_text())
        if data_path.stat().st_size != meta["compressed"]:
            return None
        return data_path, {k: int(meta[k]) for k in ("uncompressed", "compressed", "entries")}
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None


def _private_tempfile(directory: Path, prefix: str) -> tuple[BinaryIO, Path]:
    """A new 0600 file in directory (0600 even under a permissive umask: an initrd can hold secrets)."""
    fd, name = tempfile.mkstemp(prefix=prefix, dir=directory)
    os.fchmod(fd, stat.S_IRUSR | stat.S_IWUSR)
    return os.fdopen(fd, "wb"), Path(name)


def rootfs_segments(rootfs: Rootfs, compression: Compression) -> list[Segment]:
    """The rootfs as segments in SEGMENT_ORDER, each compressed alike."""
    if compression is Compression.LZ4:
        # The kernel stops unpacking after an lz4 (legacy format) archive that is followed by another one
        # (measured with Debian's 6.1): lz4 gets a single segment.
        return [Segment("initrd", tuple(rootfs.sorted_entries()), compression)]
    return [Segment(name, tuple(entries), compression) for name, entries in rootfs.segments().items()]


class _Observed:
    """A writable stream that shows each chunk to observe before passing it on (CpioArchive.write only calls
    write)."""

    def __init__(self, inner: BinaryIO, observe: Callable[[bytes], None]) -> None:
        self._inner = inner
        self._observe = observe

    def write(self, data: bytes) -> int:
        self._observe(data)
        return self._inner.write(data)


def build_segment(
    segment: Segment,
    cache_dir: Path,
    epoch: int,
    *,
    verify: bool = True,
    observe: Callable[[bytes], None] | None = None,
) -> tuple[Path, SegmentSize]:
    """The compressed segment file in cache_dir, built unless an identical one is cached. observe sees every chunk
    of the uncompressed archive as it is written (a progress display)."""
    archive = CpioArchive.plan(segment.entries, epoch)
    digest = segment_digest(archive, segment.compression)
    hit = _cached(cache_dir, digest, segment.compression)
    if hit is not None:
        path, meta = hit
        log.info("initrd segment %s: cached %s", segment.name, path.name, extra=_LOG_ONLY)
        size = SegmentSize(
            segment.name,
            segment.compression,
            digest,
            meta["entries"],
            meta["uncompressed"],
            meta["compressed"],
            True,
        )
        return path, size
    segment.compression.require()
    out, tmp = _private_tempfile(cache_dir, f".{segment.name}-")
    try:
        with out:
            producer: Callable[[BinaryIO], int] = archive.write
            if observe is not None:
                producer = lambda pipe: archive.write(cast(BinaryIO, _Observed(pipe, observe)))  # noqa: E731
            uncompressed = segment.compression.compress_from(producer, out)
        if uncompressed != archive.size:
            raise InternalError(f"segment {segment.name}: wrote {uncompressed} bytes, planned {archive.size}")
        if verify:
            segment.compression.verify(tmp)
        path = cache_dir / f"{digest}.cpio{segment.compression.suffix}"
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    compressed = path.stat().st_size
    meta = {"uncompressed": uncompressed, "compressed": compressed, "entries": len(archive.records)}
    meta_out, meta_tmp = _private_tempfile(cache_dir, f".{segment.name}-meta-")
    with meta_out:
        meta_out.write(json.dumps(meta, sort_keys=True).encode())
    os.replace(meta_tmp, cache_dir / f"{digest}.json")
    log.info("initrd segment %s: %d -> %d bytes", segment.name, uncompressed, compressed, extra=_LOG_ONLY)
    return path, SegmentSize(
        segment.name, segment.compression, digest, len(archive.records), uncompressed, compressed, False
    )


def build_initrd(
    segments: Sequence[Segment],
    output: Path,
    *,
    cache_dir: Path,
    epoch: int,
    verify: bool = True,
    observe: Callable[[bytes], None] | None = None,
) -> InitrdResult:
    """Write the initrd to output (mode 0600), its segments in the given order, each 4-byte aligned.

    epoch: SOURCE_DATE_EPOCH (mtimes are clamped to it). verify: integrity-test freshly compressed
    segments with the compressor's own -t.
    """
    if not segments:
        raise InternalError("an initrd needs at least one segment")
    for s in segments[:-1]:
        if s.compression is Compression.LZ4:
            # The kernel's legacy-LZ4 reader has no end-of-stream marker: it reads on until the buffer ends
            # and takes the next archive for a corrupt chunk (lib/decompress_unlz4.c). Measured with Debian's 6.1
            # kernel: "Initramfs unpacking failed: Decoding failed".
            raise UserError(
                f"initrd segment {s.name!r} is lz4-compressed but is not the last segment",
                hint="lz4 can only compress the last initrd segment; choose zstd for the others",
            )
    cache_dir.mkdir(parents=True, exist_ok=True)
    built = [build_segment(s, cache_dir, epoch, verify=verify, observe=observe) for s in segments]
    output.parent.mkdir(parents=True, exist_ok=True)
    out, tmp = _private_tempfile(output.parent, f".{output.name}-")
    try:
        with out:
            position = 0
            for path, _ in built:
                with path.open("rb") as f:
                    shutil.copyfileobj(f, out, 1 << 20)
                position += path.stat().st_size
                # Uncompressed archives must start 4-byte aligned (init/initramfs.c checks this_header & 3).
                pad = -position % newc.ALIGN
                out.write(b"\0" * pad)
                position += pad
        os.replace(tmp, output)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return InitrdResult(output, tuple(size for _, size in built))


def tree_entries(root: Path, prefix: str = "") -> list[Entry]:
    """Entries for everything below root (not root itself), placed under prefix in the image."""
    entries: list[Entry] = []
    base = prefix.strip("/")
    for directory, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = os.path.relpath(directory, root)
        for name in [*dirnames, *sorted(filenames)]:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            entries.append(Entry.from_path(f"{base}/{rel}" if base else rel, Path(directory, name)))
    return entries
