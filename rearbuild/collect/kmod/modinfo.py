"""The .modinfo section of a module (an ELF relocatable file), read without modinfo(8).

Compressed modules (.ko.xz, .ko.gz) are read with the standard library; .ko.zst with the `zstd` tool
(Python 3.11 has no zstd module), one process for a whole batch of files, not one per module.
"""

from __future__ import annotations

import gzip
import lzma
import mmap
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rearbuild.collect.elf import ElfError, read_section
from rearbuild.collect.kmod.names import module_codec
from rearbuild.compression import Codec
from rearbuild.errors import UserError
from rearbuild.run import run

_MODINFO = ".modinfo"
_DAMAGED = "the module file is damaged; reinstall the kernel package it belongs to"


@dataclass(frozen=True)
class Modinfo:
    """The key=value strings of a module's .modinfo section (a key may repeat: firmware, alias)."""

    entries: tuple[tuple[str, str], ...]

    def get(self, key: str) -> tuple[str, ...]:
        return tuple(value for k, value in self.entries if k == key)

    @classmethod
    def parse(cls, section: bytes) -> Modinfo:
        entries = []
        for raw in section.split(b"\0"):
            key, sep, value = raw.decode("utf-8", "replace").partition("=")
            if sep:
                entries.append((key, value))
        return cls(tuple(entries))


def _modinfo_section(image: bytes | mmap.mmap, where: str) -> bytes:
    try:
        section = read_section(image, _MODINFO, where)
    except ElfError as exc:
        raise UserError(str(exc), hint=_DAMAGED) from exc
    if section is None:
        raise UserError(f"{where}: not an ELF file", hint=_DAMAGED)
    return section


def read_modinfo(path: Path, *, uncompressed: bytes | None = None) -> Modinfo:
    """The .modinfo of one module file (plain, .xz, .gz; .zst needs `uncompressed` from read_modinfos)."""
    where = str(path)
    kind = module_codec(path)
    try:
        if uncompressed is not None:
            return Modinfo.parse(_modinfo_section(uncompressed, where))
        if kind is Codec.NONE:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size == 0:
                    raise UserError(f"{where}: empty module file", hint="reinstall the kernel package")
                with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as image:
                    return Modinfo.parse(_modinfo_section(image, where))
        if kind is Codec.ZSTD:
            return read_modinfos([path])[path]
        return Modinfo.parse(_modinfo_section(kind.decode(path.read_bytes()), where))
    except (lzma.LZMAError, gzip.BadGzipFile, EOFError) as exc:
        raise UserError(f"{where}: cannot decompress: {exc}", hint="reinstall the kernel package") from exc
    except OSError as exc:
        raise UserError(f"cannot read module {where}: {exc.strerror}") from exc


def _zstd_decompress(paths: Sequence[Path]) -> dict[Path, bytes]:
    """Decompress .ko.zst files with one `zstd` process per batch of distinct file names."""
    result: dict[Path, bytes] = {}
    pending = list(paths)
    while pending:
        batch: dict[str, Path] = {}
        rest = []
        for path in pending:
            if path.name in batch or len(batch) >= 1000:
                rest.append(path)
            else:
                batch[path.name] = path
        pending = rest
        with tempfile.TemporaryDirectory(prefix="rearbuild-zstd-") as out:
            run(
                Codec.ZSTD.decompress_files_argv(Path(out), list(batch.values())),
                hint="install zstd (apt-get install zstd): the modules of this kernel are zstd-compressed",
            )
            for name, path in batch.items():
                result[path] = (Path(out) / name.removesuffix(Codec.ZSTD.suffix)).read_bytes()
    return result


def read_modinfos(paths: Iterable[Path]) -> dict[Path, Modinfo]:
    """The .modinfo of many modules; zstd ones are decompressed in batches, not one process each."""
    paths = list(paths)
    zstd = [p for p in paths if module_codec(p) is Codec.ZSTD]
    unpacked = _zstd_decompress(zstd) if zstd else {}
    return {p: read_modinfo(p, uncompressed=unpacked.get(p)) for p in paths}
