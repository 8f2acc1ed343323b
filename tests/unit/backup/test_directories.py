"""The directory record written beside the archive and replayed after the restore (backup/directories.py)."""

from __future__ import annotations

import logging
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


def test_recreating_follows_the_restored_systems_links_inside_the_target(tmp_path: Path) -> None:
    """var -> <elsewhere> (absolute) and run -> ../../elsewhere in the restored tree are that system's own places:
    what is missing is made below the target, never in the real <elsewhere>."""
    target, elsewhere = tmp_path / "target", tmp_path / "elsewhere"
    target.mkdir()
    elsewhere.mkdir()
    (target / "var").symlink_to(elsewhere)
    (target / "run").symlink_to("../../elsewhere")
    entries = (
        directories.DirEntry("/var/lib", 0o700),
        directories.DirEntry("/run/lock", 0o1777),
        directories.DirEntry("/var/run", link_target="/run"),
    )
    changed = directories.recreate_missing(entries, target)
    assert list(elsewhere.iterdir()) == []
    assert changed == ["/run/lock", "/var/lib", "/var/run"]
    var = target / str(elsewhere).lstrip("/")
    assert stat.S_IMODE((var / "lib").stat().st_mode) == 0o700
    assert os.readlink(var / "run") == "/run"
    assert stat.S_IMODE((target / "elsewhere/lock").stat().st_mode) == 0o1777


def test_what_cannot_be_recreated_is_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a run in this process (the CLI tests) keeps rearbuild's records from the root logger caplog listens on
    monkeypatch.setattr(logging.getLogger("rearbuild"), "propagate", True)
    target = tmp_path / "target"
    target.mkdir()
    (target / "srv").write_text("a file where a directory was recorded\n")
    changed = directories.recreate_missing((directories.DirEntry("/srv/data"), directories.DirEntry("/opt")), target)
    assert changed == ["/opt"]
    assert "/srv/data not recreated below" in caplog.text


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
