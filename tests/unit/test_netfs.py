"""BACKUP=NETFS pieces without a backup: what tar is asked to archive for a layout, compression and
encryption argv (no key on any command line), checksum files, the streaming pipeline, the directory record."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from rearbuild import checksum
from rearbuild.backup import archive as backup_archive
from rearbuild.backup import directories
from rearbuild.backup.archive import KEY_VARIABLE, ArchiveFormat, Encryption, create_step, extract_step
from rearbuild.backup.pipeline import Step, stream
from rearbuild.backup.progress import Progress
from rearbuild.backup.selection import select
from rearbuild.compression import Codec
from rearbuild.errors import UserError
from rearbuild.layout.disklayout import parse_layout, read_layout
from rearbuild.run import CommandError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "layout"


# ---- what is archived -------------------------------------------------------------------------------------------


def _devices(mapping: dict[str, int]) -> Callable[[str], int | None]:
    return lambda path: mapping.get(path)


def test_includes_follow_the_layout_mount_tree() -> None:
    layout = read_layout(FIXTURES / "gpt_lvm.conf")
    chosen = select(
        layout,
        exclude=("/tmp/*",),
        extra_excludes=("/var/tmp/rear.X", "/backup"),
        device_of=_devices({"/": 1, "/home": 2, "/boot/efi": 3}),
    )
    assert set(chosen.includes) == {"/", "/home", "/boot/efi"}
    assert chosen.excludes == ("/tmp/*", "/var/tmp/rear.X", "/backup")


def test_mounted_btrfs_subvolumes_are_included() -> None:
    layout = read_layout(FIXTURES / "btrfs_sles.conf")
    devices = {"/": 1, "/.snapshots": 2, "/var": 3, "/opt": 4, "/srv": 5, "/home": 6}
    chosen = select(layout, device_of=_devices(devices))
    assert {"/var", "/opt", "/srv", "/home"} <= set(chosen.includes)


def test_only_include_and_nested_includes() -> None:
    layout = read_layout(FIXTURES / "gpt_lvm.conf")
    devices = {"/": 1, "/home": 2, "/boot/efi": 3, "/data": 1, "/data/sub": 1, "/home/u": 2}
    only = select(layout, include=("/data", "/data/sub"), only_include=True, device_of=_devices(devices))
    assert only.includes == ("/data",), "an include inside another on the same file system would be archived twice"
    both = select(layout, include=("/home/u", "/gone"), device_of=_devices(devices))
    assert "/home/u" not in both.includes and both.missing == ("/gone",)


def test_excluded_file_systems_are_excluded_from_the_backup() -> None:
    layout = parse_layout("fs /dev/sda1 / ext4 uuid=a label=\n#fs /dev/sdb1 /data xfs uuid=b label=\n", source="t.conf")
    chosen = select(layout, device_of=_devices({"/": 1, "/data": 2}))
    assert chosen.includes == ("/",) and "/data" in chosen.excludes
    only_exclude = select(
        layout, only_exclude=True, exclude=("/x",), extra_excludes=("/build",), device_of=_devices({"/": 1})
    )
    assert only_exclude.excludes == ("/x",)


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
    assert [s.name for s in gz.write_steps(tar)] == ["tar", "gzip"]
    assert [s.name for s in gz.read_steps()] == ["gzip"]
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


# ---- checksum ---------------------------------------------------------------------------------------------------


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


# ---- the pipeline -----------------------------------------------------------------------------------------------


def test_stream_through_programs_with_taps(tmp_path: Path) -> None:
    data = os.urandom(3 << 20)
    out = tmp_path / "out"
    seen: list[int] = []
    with open(out, "wb") as sink:
        stream(
            (Step(("cat",)), Step(("gzip", "-c")), Step(("gzip", "-d", "-c"))),
            source=io.BytesIO(data),
            sink=sink,
            taps={0: lambda c: seen.append(len(c)), 3: lambda c: None},
        )
    assert out.read_bytes() == data and sum(seen) == len(data)


def test_a_failing_program_is_reported_not_its_victims(tmp_path: Path) -> None:
    with open(tmp_path / "out", "wb") as sink, pytest.raises(CommandError) as err:
        stream(
            (Step(("cat", "/dev/zero")), Step(("sh", "-c", "head -c 10 >/dev/null; echo broken >&2; exit 3"))),
            sink=sink,
            taps={1: lambda c: None},
        )
    assert "sh exited with 3" in str(err.value) and "broken" in str(err.value)


# ---- progress ---------------------------------------------------------------------------------------------------


def test_progress_line_has_rate_and_eta() -> None:
    now = [100.0]
    progress = Progress("backup", 1000 * 2**10, stream=io.StringIO(), clock=lambda: now[0])
    progress.add(b"x" * (250 * 2**10))
    now[0] += 10
    line = progress.line()
    assert "250.0 KiB" in line and "25.0 KiB/s" in line and "ETA 0:00:30" in line and "(25%)" in line


# ---- directories ------------------------------------------------------------------------------------------------


def test_directory_record_round_trip(tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "srv").mkdir(parents=True)
    (source / "tmp").mkdir()
    if os.geteuid() == 0:
        os.chown(source / "srv", 1234, 5678)
    os.chmod(source / "srv", 0o2750)
    os.chmod(source / "tmp", 0o1777)
    (source / "bin").symlink_to("usr/bin")
    entries = directories.record(["/srv", "/tmp", "/bin", "/missing"], root=source)
    directories.write(entries, tmp_path / "record")
    assert directories.read(tmp_path / "record") == entries
    target = tmp_path / "target"
    (target / "tmp").mkdir(parents=True)  # tar created it as the parent of an include: wrong mode
    changed = directories.recreate_missing(entries, target, includes=("/tmp/x",))
    assert set(changed) == {"/srv", "/bin"}
    assert stat.S_IMODE((target / "srv").stat().st_mode) == 0o2750
    assert stat.S_IMODE((target / "tmp").stat().st_mode) == 0o1777
    assert os.readlink(target / "bin") == "usr/bin"
    if os.geteuid() == 0:
        assert ((target / "srv").stat().st_uid, (target / "srv").stat().st_gid) == (1234, 5678)
