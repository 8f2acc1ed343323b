"""Initrd compression: which compressor, how it is called so that its output is reproducible and bootable.

The enum values are the REAR_INITRD_COMPRESSION values rearbuild understands. ReaR's own values keep their
meaning: "" is gzip at its default level, "fast"/"best" are gzip --fast/--best, "lzma" asks for the best
ratio ReaR offers and becomes xz (the .xz container with a CRC32 check, which the kernel's XZ decoder
reads; ReaR's legacy .lzma stream has no integrity check at all).

Every compressor reads standard input and writes standard output through rearbuild.run.run(); the input
is streamed through a pipe from a writer thread, so a 300 MB cpio never sits in memory or on disk twice.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import BinaryIO

from rearbuild.errors import InternalError, UserError
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


class Compression(Enum):
    NONE = "none"
    GZIP = "gzip"
    GZIP_FAST = "fast"
    GZIP_BEST = "best"
    XZ = "xz"
    ZSTD = "zstd"
    LZ4 = "lz4"

    @classmethod
    def parse(cls, value: str) -> Compression:
        """A REAR_INITRD_COMPRESSION value, ReaR's ("", fast, best, lzma, lz4) or rearbuild's own."""
        aliases = {"": cls.GZIP, "gz": cls.GZIP, "lzma": cls.XZ, "zst": cls.ZSTD}
        text = value.strip().lower()
        if text in aliases:
            return aliases[text]
        try:
            return cls(text)
        except ValueError:
            known = ", ".join(repr(c.value) for c in cls)
            raise UserError(
                f"REAR_INITRD_COMPRESSION={value!r} is not a known compression",
                hint=f"use one of {known} (or ReaR's '' and 'lzma')",
            ) from None

    @property
    def program(self) -> str | None:
        """The program this compression runs; gzip prefers pigz (parallel) when it is installed."""
        if self is Compression.NONE:
            return None
        if self in _GZIPS:
            return "pigz" if shutil.which("pigz") else "gzip"
        return str(self.value)

    @property
    def package(self) -> str:
        """The Debian package that provides the program, for error hints."""
        return {Compression.XZ: "xz-utils", Compression.ZSTD: "zstd", Compression.LZ4: "lz4"}.get(self, "gzip")

    @property
    def suffix(self) -> str:
        return {
            Compression.NONE: "",
            Compression.XZ: ".xz",
            Compression.ZSTD: ".zst",
            Compression.LZ4: ".lz4",
        }.get(self, ".gz")

    def available(self) -> bool:
        program = self.program
        return program is None or shutil.which(program) is not None

    def require(self) -> None:
        if not self.available():
            raise UserError(
                f"initrd compression {self.value!r} needs the program {self.program!r}",
                hint=f"apt-get install {self.package}, or choose another REAR_INITRD_COMPRESSION",
            )

    def argv(self) -> tuple[str, ...]:
        """The command that compresses standard input to standard output, reproducibly."""
        program = self.program
        if program is None:
            raise InternalError("Compression.NONE runs no command")
        match self:
            case Compression.GZIP | Compression.GZIP_FAST | Compression.GZIP_BEST:
                # -n: store no file name and no time stamp in the gzip header (gzip(1), pigz(1)): the one
                # non-deterministic field. pigz's output does not depend on its thread count, but differs
                # from gzip's, so the cache digest includes this argv.
                level = {Compression.GZIP_FAST: 1, Compression.GZIP_BEST: 9}.get(self, GZIP_LEVEL)
                return (program, "-n", f"-{level}", "-c")
            case Compression.XZ:
                # --check=crc32: the kernel's XZ Embedded decoder verifies only CRC32 (or no check); xz's
                # default CRC64 is rejected (Documentation/staging/xz.rst, "Notes on compression options";
                # the kernel's own scripts/xz_wrap.sh passes --check=crc32 too). Measured: Debian's 6.1 kernel stops
                # with "Input was encoded with settings that are not supported by this XZ decoder" on CRC64.
                # --threads=0: since xz 5.4 the automatic thread count always selects the multi-threaded
                # encoder, whose blocks depend on the preset's block size only, so the output is the same on
                # 1 or 64 CPUs (xz(1), --threads). XZ Embedded decodes multi-block streams.
                return (program, "--compress", "--stdout", "--check=crc32", f"-{XZ_PRESET}", "--threads=0")
            case Compression.ZSTD:
                # -T0: one worker per core; zstd's multi-threaded output does not depend on the worker count
                # (zstd.h, ZSTD_c_nbWorkers). -q: no progress on stderr.
                return (program, "-q", f"-{ZSTD_LEVEL}", "-T0", "-c")
            case Compression.LZ4:
                # -l: the legacy frame format, the only one the kernel's lib/decompress_unlz4.c accepts (it
                # checks the legacy magic 0x184C2102). Default (fast) level, as ReaR's "lz4 -l".
                return (program, "-q", "-l", "-c")
        raise InternalError(f"no command for {self}")

    def test_argv(self) -> tuple[str, ...]:
        """The command that checks a compressed file (integrity test, no output)."""
        program = self.program
        if program is None:
            raise InternalError("Compression.NONE has no integrity test")
        return (program, "-t", "-q") if self is not Compression.LZ4 else (program, "-t", "-q", "-l")

    def decompress_argv(self) -> tuple[str, ...]:
        program = self.program
        if program is None:
            raise InternalError("Compression.NONE has no decompressor")
        return (program, "-d", "-c")

    def compress_file(self, source: Path, dest: BinaryIO) -> None:
        """Compress the file source into the open binary file dest."""
        if self is Compression.NONE:
            with source.open("rb") as f:
                shutil.copyfileobj(f, dest, 1 << 20)
            return
        self.require()
        with source.open("rb") as f:
            run(self.argv(), stdin=f, stdout=dest)

    def compress_from(self, producer: Callable[[BinaryIO], int], dest: BinaryIO) -> int:
        """Run producer(stream) in a thread, compressing what it writes into dest.

        Returns what producer returned (the uncompressed length). An error of the producer (e.g. a
        vanished source file) is raised here after the compressor finished; a compressor failure is
        raised as run()'s CommandError.
        """
        if self is Compression.NONE:
            return producer(dest)
        self.require()
        read_fd, write_fd = os.pipe()
        outcome: list[int] = []
        failure: list[BaseException] = []

        def feed() -> None:
            try:
                with open(write_fd, "wb", buffering=1 << 20) as pipe:
                    outcome.append(producer(pipe))
            except BrokenPipeError:
                pass  # the compressor died; run() reports why
            except BaseException as exc:
                failure.append(exc)

        thread = threading.Thread(target=feed, name=f"cpio-to-{self.value}", daemon=True)
        with open(read_fd, "rb", buffering=0) as pipe_in:
            thread.start()
            try:
                run(self.argv(), stdin=pipe_in, stdout=dest)
            finally:
                # Closing our read end unblocks a writer whose compressor died (EPIPE instead of a hang).
                pipe_in.close()
                thread.join()
        if failure:
            raise failure[0]
        if not outcome:
            raise InternalError(f"{self.value} finished but the archive writer did not")
        return outcome[0]

    def verify(self, path: Path) -> None:
        """Check that path decompresses (the compressor's own integrity test)."""
        if self is Compression.NONE:
            return
        run((*self.test_argv(), os.fspath(path)), hint=f"{path} is a corrupt {self.value} file")


_GZIPS = (Compression.GZIP, Compression.GZIP_FAST, Compression.GZIP_BEST)
