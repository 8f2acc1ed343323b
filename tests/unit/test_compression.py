"""The codec table: suffixes, magic bytes, command lines and the Python decoders."""

from __future__ import annotations

import bz2
import gzip
import lzma
import shutil

import pytest

from rearbuild.compression import Codec


def test_every_codec_has_a_suffix_magic_and_package() -> None:
    for codec in Codec:
        assert codec.package
        assert bool(codec.suffix) == bool(codec.magic) == (codec is not Codec.NONE)
    assert Codec.ZSTD.suffix == ".zst" and Codec.XZ.program == "xz" and Codec.LZMA.program == "xz"


def test_decoders_read_what_the_standard_library_writes() -> None:
    data = b"rescue " * 100
    for codec, packed in (
        (Codec.GZIP, gzip.compress(data)),
        (Codec.XZ, lzma.compress(data)),
        (Codec.LZMA, lzma.compress(data, format=lzma.FORMAT_ALONE)),
        (Codec.BZIP2, bz2.compress(data)),
    ):
        assert Codec.sniff(packed) is codec
        assert codec.decode(packed) == data
        assert codec.decode_first_stream(packed) == data
    assert Codec.NONE.decode(data) == data and Codec.sniff(data) is None


@pytest.mark.skipif(shutil.which("zstd") is None, reason="apt-get install zstd")
def test_zstd_is_decoded_by_its_program() -> None:
    from rearbuild.run import run

    packed = run(Codec.ZSTD.pipe_compress_argv(), input=b"abc" * 50).stdout
    assert Codec.sniff(packed) is Codec.ZSTD and Codec.ZSTD.decode(packed) == b"abc" * 50


def test_command_lines() -> None:
    assert Codec.GZIP.pipe_compress_argv() == ("gzip", "-c")
    assert Codec.XZ.pipe_compress_argv() == ("xz", "-q", "-c", "-T0")
    assert Codec.BZIP2.pipe_decompress_argv() == ("bzip2", "-q", "-d", "-c")
    assert Codec.GZIP.reproducible_argv("pigz", 9) == ("pigz", "-n", "-9", "-c")
    assert "--check=crc32" in Codec.XZ.reproducible_argv()
    assert Codec.LZ4.test_argv() == ("lz4", "-t", "-q", "-l")
