"""The directory record written beside the archive and replayed after the restore (backup/directories.py)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from rearbuild.backup import directories
from rearbuild.backup.directories import FILE_NAME, read, recreate_missing
from rearbuild.errors import UserError


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


@pytest.mark.parametrize(
    "line",
    [
        "/home 77777777 0 0",  # a mode beyond 07777
        "/home 0755 99999999999 0",  # an owner beyond uid_t
        "/home 0755 0 -5",
        "home 0755 0 0",  # not absolute
        "/../../etc 0755 0 0",  # escapes the target
        "/x -> ",
        "\x00\x01garbage",
    ],
)
def test_a_garbage_record_is_a_clear_error(tmp_path: Path, line: str) -> None:
    record = tmp_path / FILE_NAME
    record.write_text(line + "\n")
    with pytest.raises(UserError, match="cannot read the line"):
        entries = read(record)
        recreate_missing(entries, tmp_path / "target")
    assert not (tmp_path / "etc").exists()


def test_a_record_that_is_not_text_is_a_clear_error(tmp_path: Path) -> None:
    record = tmp_path / FILE_NAME
    record.write_bytes(b"/home \xff\xfe 0 0\n")
    with pytest.raises(UserError, match="not a directory record"):
        read(record)
