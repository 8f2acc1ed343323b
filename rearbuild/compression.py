"""The compression codecs rearbuild reads and writes, each described once: its names, file suffix, magic bytes,
the program (and Debian package) that compresses and decompresses it with the command lines each use, and the
Python decoder where the standard library has one.

It lives at the top of the package because four places use the same codecs for different things: the initrd
(rearbuild.build.compress: REAR_INITRD_COMPRESSION, reproducible and kernel-readable), the backup archive's tar
pipeline (rearbuild.backup.archive: BACKUP_PROG_COMPRESS), compressed kernel modules (.ko.xz, .ko.gz, .ko.zst:
rearbuild.collect.kmod) and reading a restored system's initramfs (rearbuild.recover.initramfs). Those modules
keep what is theirs (which codecs a setting allows, how a stream is fed); the facts of a codec are here.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import struct
from collections.abc import Sequence
from enum import Enum
from pathlib import Path

from rearbuild.errors import InternalError
from rearbuild.run import run

# zstd level 10: on 116 MB of Debian 12 kernel modules with -T0 on two cores it gave 21.2 MB at 73 MB/s,
# against 24.7 MB at 366 MB/s for zstd's default 3 and 21.0 MB at 13 MB/s for 15: 14 % smaller than the
# default while a 300 MB rescue system still compresses in ~4 s (and an unchanged segment is cached). Its
# 8 MiB window fits the kernel's zstd decoder (lib/decompress_unzstd.c) without --long.
ZSTD_LEVEL = 10
# gzip's default level, what ReaR's plain "gzip" used.
GZIP_LEVEL = 6
# xz's default preset; its 8 MiB dictionary decodes in the kernel's dynamically allocated XZ decoder.
XZ_PRESET = 6

# Magic numbers (the first bytes of a compressed stream): gzip RFC 1952 ID1 ID2; xz file format 1.0.4
# "Stream Header" magic; the legacy .lzma header's properties byte 0x5d (lc=3, lp=0, pb=2) and the low
# bytes of its dictionary size (xz-utils doc/lzma-file-format.txt); zstd RFC 8878 frame magic 0xFD2FB528
# (little endian); bzip2 "BZh"; lz4's legacy frame magic 0x184C2102 (the one the kernel reads, lib/decompress_unlz4.c).
_GZIP_MAGIC = b"\x1f\x8b"
_XZ_MAGIC = b"\xfd7zXZ\x00"
_LZMA_MAGIC = b"\x5d\x00\x00"
_ZSTD_MAGIC = struct.pack("<I", 0xFD2FB528)
_BZIP2_MAGIC = b"BZh"
_LZ4_LEGACY_MAGIC = struct.pack("<I", 0x184C2102)


class Codec(Enum):
    """One compression format: (its name as ReaR's variables spell it, file-name suffix, magic, Debian package)."""

    NONE = ("none", "", b"", "coreutils")
    GZIP = ("gzip", ".gz", _GZIP_MAGIC, "gzip")
    BZIP2 = ("bzip2", ".bz2", _BZIP2_MAGIC, "bzip2")
    XZ = ("xz", ".xz", _XZ_MAGIC, "xz-utils")
    # legacy .lzma streams: read only (old initramfs files); rearbuild writes xz instead
    LZMA = ("lzma", ".lzma", _LZMA_MAGIC, "xz-utils")
    ZSTD = ("zstd", ".zst", _ZSTD_MAGIC, "zstd")
    LZ4 = ("lz4", ".lz4", _LZ4_LEGACY_MAGIC, "lz4")

    def __init__(self, word: str, suffix: str, magic: bytes, package: str) -> None:
        self.word = word
        self.suffix = suffix  # '' for NONE
        self.magic = magic  # the first bytes of a stream; b'' for NONE
        self.package = package  # the Debian package that provides the program, for error hints

    @property
    def program(self) -> str | None:
        """The program that compresses and decompresses it (None for NONE)."""
        if self is Codec.NONE:
            return None
        if self is Codec.LZMA:
            return "xz"
        return self.word

    @classmethod
    def sniff(cls, data: bytes) -> Codec | None:
        """The codec whose magic starts data (None when none does)."""
        for codec in cls:
            if codec.magic and data.startswith(codec.magic):
                return codec
        return None

    # --- Python decoders ----------------------------------------------------------------------------------

    def decode(self, data: bytes) -> bytes:
        """The whole decompressed stream; the standard library's decoder, else the program (one process)."""
        match self:
            case Codec.NONE:
                return data
            case Codec.GZIP:
                return gzip.decompress(data)
            case Codec.XZ:
                return lzma.decompress(data)
            case Codec.LZMA:
                return lzma.decompress(data, format=lzma.FORMAT_ALONE)
            case Codec.BZIP2:
                return bz2.decompress(data)
        return run(self.pipe_decompress_argv(), input=data, hint=f"install {self.package}").stdout

    def decode_first_stream(self, data: bytes) -> bytes:
        """The first stream of data, what follows it ignored (an initramfs may end in padding).
        xz and lzma streams are read by liblzma's auto-detecting decoder, which stops at the stream's end."""
        if self in (Codec.XZ, Codec.LZMA):
            return lzma.LZMADecompressor().decompress(data)
        return self.decode(data)

    # --- command lines ------------------------------------------------------------------------------------

    def _require_program(self) -> str:
        program = self.program
        if program is None:
            raise InternalError(f"{self.word} runs no program")
        return program

    def pipe_compress_argv(self) -> tuple[str, ...]:
        """Compress standard input to standard output (the backup archive's pipeline)."""
        program = self._require_program()
        if self in (Codec.ZSTD, Codec.XZ):
            # -T0: one thread per core; gzip and bzip2 have none (zstd(1), xz(1)).
            return (program, "-q", "-c", "-T0")
        return (program, "-c")

    def pipe_decompress_argv(self) -> tuple[str, ...]:
        """Decompress standard input to standard output (the backup archive's pipeline)."""
        return (self._require_program(), "-q", "-d", "-c")

    def reproducible_argv(self, program: str | None = None, level: int | None = None) -> tuple[str, ...]:
        """Compress standard input to standard output reproducibly and in a form the kernel's decompressors
        read (the initrd). program: a compatible replacement (pigz for gzip); level: gzip's level."""
        program = program or self._require_program()
        match self:
            case Codec.GZIP:
                # -n: store no file name and no time stamp in the gzip header (gzip(1), pigz(1)): the one
                # non-deterministic field. pigz's output does not depend on its thread count, but differs
                # from gzip's, so the cache digest includes this argv.
                return (program, "-n", f"-{GZIP_LEVEL if level is None else level}", "-c")
            case Codec.XZ:
                # --check=crc32: the kernel's XZ Embedded decoder verifies only CRC32 (or no check); xz's
                # default CRC64 is rejected (Documentation/staging/xz.rst, "Notes on compression options";
                # the kernel's own scripts/xz_wrap.sh passes --check=crc32 too). Measured: Debian's 6.1 kernel stops
                # with "Input was encoded with settings that are not supported by this XZ decoder" on CRC64.
                # --threads=0: since xz 5.4 the automatic thread count always selects the multi-threaded
                # encoder, whose blocks depend on the preset's block size only, so the output is the same on
                # 1 or 64 CPUs (xz(1), --threads). XZ Embedded decodes multi-block streams.
                return (program, "--compress", "--stdout", "--check=crc32", f"-{XZ_PRESET}", "--threads=0")
            case Codec.ZSTD:
                # -T0: one worker per core; zstd's multi-threaded output does not depend on the worker count
                # (zstd.h, ZSTD_c_nbWorkers). -q: no progress on stderr.
                return (program, "-q", f"-{ZSTD_LEVEL}", "-T0", "-c")
            case Codec.LZ4:
                # -l: the legacy frame format, the only one the kernel's lib/decompress_unlz4.c accepts (it
                # checks the legacy magic 0x184C2102). Default (fast) level, as ReaR's "lz4 -l".
                return (program, "-q", "-l", "-c")
        raise InternalError(f"no reproducible command for {self}")

    def test_argv(self, program: str | None = None) -> tuple[str, ...]:
        """Check a compressed file (integrity test, no output); the file name is appended."""
        program = program or self._require_program()
        return (program, "-t", "-q", "-l") if self is Codec.LZ4 else (program, "-t", "-q")

    def decompress_argv(self, program: str | None = None) -> tuple[str, ...]:
        """Decompress standard input to standard output."""
        return (program or self._require_program(), "-d", "-c")

    def decompress_files_argv(self, out_dir: Path, files: Sequence[Path]) -> tuple[str, ...]:
        """Decompress files into out_dir (same names without the suffix) with one process."""
        if self is not Codec.ZSTD:
            raise InternalError(f"{self.word} files are decompressed in Python")
        return ("zstd", "-d", "-q", "-f", "--output-dir-flat", str(out_dir), *map(str, files))
