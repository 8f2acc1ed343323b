"""The one file hash and the sha256sum(1) side file: what sha256sum writes and checks, read and written here."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from rearbuild import checksum
from rearbuild.errors import UserError


def test_sha256_file_feeds_every_chunk_to_the_observer(tmp_path: Path) -> None:
    data = bytes(range(256)) * (checksum.CHUNK // 256 + 3)  # more than one chunk
    path = tmp_path / "blob"
    path.write_bytes(data)
    seen: list[bytes] = []
    assert checksum.sha256_file(path, seen.append) == hashlib.sha256(data).hexdigest()
    assert len(seen) == 2 and b"".join(seen) == data
    assert checksum.sha256_file(str(path)) == hashlib.sha256(data).hexdigest()


def test_side_file_is_what_sha256sum_checks(tmp_path: Path) -> None:
    path = tmp_path / "rescue.iso"
    path.write_bytes(b"an image")
    written = checksum.write_side_file(path, checksum.sha256_file(path))
    assert written == tmp_path / "rescue.iso.sha256"
    assert written.read_text() == f"{hashlib.sha256(b'an image').hexdigest()}  rescue.iso\n"
    assert checksum.read_side_file(path) == hashlib.sha256(b"an image").hexdigest()
    if shutil.which("sha256sum"):
        subprocess.run(["sha256sum", "--check", "--quiet", written.name], cwd=tmp_path, check=True)


def test_side_file_written_by_sha256sum_is_read(tmp_path: Path) -> None:
    if not shutil.which("sha256sum"):
        pytest.skip("no sha256sum")
    path = tmp_path / "backup.tar.gz"
    path.write_bytes(b"\x1f\x8b" * 10)
    out = subprocess.run(["sha256sum", path.name], cwd=tmp_path, check=True, capture_output=True, text=True).stdout
    checksum.side_file(path).write_text(out)
    assert checksum.read_side_file(path) == checksum.sha256_file(path)


def test_a_side_file_without_a_digest_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x"
    checksum.side_file(path).write_text("not a checksum\n")
    with pytest.raises(UserError, match="not a sha256 checksum file"):
        checksum.read_side_file(path)


def test_sha256_mismatch_is_detected(tmp_path: Path) -> None:
    archive = tmp_path / "backup.tar.gz"
    archive.write_bytes(b"\x1f\x8b" + bytes(range(256)) * 100)
    digest = checksum.sha256_file(archive)
    (tmp_path / "backup.tar.gz.sha256").write_text(checksum.format_line(digest, archive.name))
    assert checksum.verify(archive) == digest
    data = bytearray(archive.read_bytes())
    data[1000] ^= 0x01
    archive.write_bytes(bytes(data))
    with pytest.raises(UserError, match="damaged"):
        checksum.verify(archive)
    (tmp_path / "backup.tar.gz.sha256").unlink()
    with pytest.raises(UserError, match="missing"):
        checksum.verify(archive)
