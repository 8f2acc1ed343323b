"""The backup archive's format: tar argv, compression and encryption steps, names; no key on any command line
(backup/archive.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rearbuild.backup import archive as backup_archive
from rearbuild.backup.archive import KEY_VARIABLE, ArchiveFormat, Encryption, create_step, extract_step
from rearbuild.compression import Codec
from rearbuild.errors import UserError

FIXTURES = Path(__file__).parents[2] / "fixtures" / "layout"


def test_tar_argv_keeps_what_recovery_needs() -> None:
    step = create_step(("/", "/home"), Path("/t/exclude.txt"), ("--anchored",))
    argv = step.argv
    for option in (
        "--one-file-system",
        "--xattrs",
        "--xattrs-include=*",
        "--acls",
        "--selinux",
        "--sparse",
        "--numeric-owner",
        "--format=posix",
        "--anchored",
        "--exclude-from=/t/exclude.txt",
    ):
        assert option in argv, option
    assert argv[-3:] == ("--", "/", "/home")
    assert 1 in step.ok_codes, "tar's 'file changed as we read it' is a warning"
    extract = extract_step(Path("/mnt/local"), ()).argv
    assert "--directory=/mnt/local" in extract and "--same-owner" in extract and "--numeric-owner" in extract


# ---- compression and encryption ---------------------------------------------------------------------------------


def test_compression_from_rear_variables_and_the_rearbuild_word() -> None:
    assert backup_archive.compression_from_tar_options(("--gzip",)) is Codec.GZIP
    assert backup_archive.compression_from_tar_options(()) is Codec.NONE
    assert backup_archive.compression_from_tar_options(("--zstd",)) is Codec.ZSTD
    assert backup_archive.parse_compression("ZSTD").suffix == ".zst"
    with pytest.raises(UserError, match="BACKUP_PROG_COMPRESS_OPTIONS"):
        backup_archive.compression_from_tar_options(("--lzop",))
    with pytest.raises(UserError, match="gzip, zstd"):
        backup_archive.parse_compression("rar")


def test_archive_names_and_steps() -> None:
    gz = ArchiveFormat(Codec.GZIP, ".gz")
    assert gz.name == "backup.tar.gz" and gz.checksum_name == "backup.tar.gz.sha256"
    tar = create_step(("/",), Path("/x"), ())
    # pigz writes the backup on every core (CI installs it); plain gzip reads it back in the rescue system.
    assert [s.name for s in gz.write_steps(tar)] == ["tar", "pigz"]
    assert [s.name for s in gz.read_steps()] == ["gzip"]
    assert gz.programs == ("tar", "gzip")
    zst = ArchiveFormat(Codec.ZSTD, ".zst")
    assert "-T0" in zst.write_steps(tar)[1].argv
    plain = ArchiveFormat(Codec.NONE, "")
    assert plain.name == "backup.tar" and plain.read_steps() == ()


def test_the_key_never_reaches_a_command_line_or_a_repr() -> None:
    key = "s3cr3t-Key"
    fmt = ArchiveFormat(Codec.ZSTD, ".zst", Encryption(key))
    steps = (*fmt.write_steps(create_step(("/",), Path("/x"), ())), *fmt.read_steps())
    assert [s.name for s in steps] == ["tar", "zstd", "openssl", "openssl", "zstd"]
    for step in steps:
        assert not any(key in word for word in step.argv)
        assert key not in repr(step) and key not in repr(fmt)
    crypt = [s for s in steps if s.name == "openssl"]
    assert all(s.env is not None and s.env[KEY_VARIABLE] == key for s in crypt)
    assert all(f"env:{KEY_VARIABLE}" in s.argv and "-pbkdf2" in s.argv for s in crypt)
