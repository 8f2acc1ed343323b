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

from rearbuild.compression import Codec
from rearbuild.errors import InternalError, UserError
from rearbuild.run import run


class Compression(Enum):
    """A REAR_INITRD_COMPRESSION choice: a codec (rearbuild.compression) and, for gzip, its level."""

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
    def codec(self) -> Codec:
        return _CODECS[self]

    @property
    def program(self) -> str | None:
        """The program this compression runs; gzip prefers pigz (parallel) when it is installed."""
        if self.codec is Codec.GZIP:
            return "pigz" if shutil.which("pigz") else "gzip"
        return self.codec.program

    @property
    def package(self) -> str:
        """The Debian package that provides the program, for error hints."""
        return self.codec.package if self is not Compression.NONE else "gzip"

    @property
    def suffix(self) -> str:
        return self.codec.suffix

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
        level = {Compression.GZIP_FAST: 1, Compression.GZIP_BEST: 9}.get(self)
        return self.codec.reproducible_argv(program, level)

    def test_argv(self) -> tuple[str, ...]:
        """The command that checks a compressed file (integrity test, no output)."""
        program = self.program
        if program is None:
            raise InternalError("Compression.NONE has no integrity test")
        return self.codec.test_argv(program)

    def decompress_argv(self) -> tuple[str, ...]:
        program = self.program
        if program is None:
            raise InternalError("Compression.NONE has no decompressor")
        return self.codec.decompress_argv(program)

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


_CODECS = {
    Compression.NONE: Codec.NONE,
    Compression.GZIP: Codec.GZIP,
    Compression.GZIP_FAST: Codec.GZIP,
    Compression.GZIP_BEST: Codec.GZIP,
    Compression.XZ: Codec.XZ,
    Compression.ZSTD: Codec.ZSTD,
    Compression.LZ4: Codec.LZ4,
}
