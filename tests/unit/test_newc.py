"""The newc format module: the header layout both the writer and the reader use, and reading names back."""

from __future__ import annotations

import io

import pytest

from rearbuild import newc
from rearbuild.build.cpio import Entry, write_cpio


def test_header_layout_and_trailer() -> None:
    head = newc.header([(n, "f") for n in range(13)], b"ab")
    assert head[:6] == newc.NEWC_MAGIC and head[6:14] == b"00000000" and head[94:102] == b"0000000B"
    assert head[110:113] == b"ab\0" and len(head) % newc.ALIGN == 0
    assert newc.trailer()[110:120] == newc.TRAILER_NAME


def test_written_archive_reads_back() -> None:
    buf = io.BytesIO()
    write_cpio([Entry.from_bytes("etc/hostname", b"rescue\n"), Entry.symlink("bin", "usr/bin")], buf, 0)
    data = buf.getvalue()
    names, end = newc.read_names(data, 0)
    assert names == ["bin", "etc", "etc/hostname"]
    assert not data[end:].strip(b"\0")


def test_cut_short_header_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="cut short"):
        newc.read_names(newc.NEWC_MAGIC + b"0000", 0)
