"""How a new archive replaces the last good one (backup/commit.py): a kill between the commit's two renames, the
leftovers of a killed run, the lock of a location."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from rearbuild.backup import commit
from rearbuild.errors import UserError


def _archive(directory: Path, data: bytes) -> tuple[Path, str]:
    directory.mkdir(parents=True, exist_ok=True)
    archive = directory / "backup.tar.gz"
    with open(commit.create_partial(archive), "wb") as f:
        f.write(data)
    return archive, hashlib.sha256(data).hexdigest()


def test_commit_leaves_a_matching_pair_and_a_private_archive(tmp_path: Path) -> None:
    archive, digest = _archive(tmp_path, b"new")
    commit.commit(archive, digest)
    assert archive.read_bytes() == b"new" and commit.verify(archive) == digest
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backup.tar.gz", "backup.tar.gz.sha256"]


def test_a_kill_between_the_renames_is_verified_and_completed_by_the_next_run(tmp_path: Path) -> None:
    archive, old = _archive(tmp_path, b"old")
    commit.commit(archive, old)
    # the state a kill right after the archive's rename leaves: new archive, old .sha256, the new one pending
    partial, new = _archive(tmp_path / "next", b"new")
    (tmp_path / "backup.tar.gz.sha256.new").write_text(f"{new}  backup.tar.gz\n")
    os.replace(commit.partial_of(partial), archive)
    assert commit.verify(archive) == new
    commit.clear_leftovers(archive)
    assert (tmp_path / "backup.tar.gz.sha256").read_text().startswith(new)
    assert not (tmp_path / "backup.tar.gz.sha256.new").exists()


def test_a_kill_before_the_renames_leaves_the_old_pair(tmp_path: Path) -> None:
    archive, old = _archive(tmp_path, b"old")
    commit.commit(archive, old)
    _archive(tmp_path, b"half of a new one")  # the .partial of a killed run
    (tmp_path / "backup.tar.gz.sha256.new").write_text(f"{'0' * 64}  backup.tar.gz\n")
    commit.clear_leftovers(archive)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backup.tar.gz", "backup.tar.gz.sha256"]
    assert commit.verify(archive) == old


def test_a_damaged_archive_is_still_refused(tmp_path: Path) -> None:
    archive, digest = _archive(tmp_path, b"data")
    commit.commit(archive, digest)
    archive.write_bytes(b"dat4")
    with pytest.raises(UserError, match="is damaged"):
        commit.verify(archive)


def _hold(directory: Path, ready: multiprocessing.synchronize.Event, done: multiprocessing.synchronize.Event) -> None:
    with commit.locked(directory, "the first backup"):
        ready.set()
        done.wait(10)


def test_a_second_writer_is_refused_naming_the_first(tmp_path: Path) -> None:
    ready, done = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(tmp_path / "host", ready, done))
    holder.start()
    try:
        assert ready.wait(10)
        refused = pytest.raises(UserError, match=rf"another backup \(pid {holder.pid} .*the first backup")
        with refused, commit.locked(tmp_path / "host", "the second"):
            pass
    finally:
        done.set()
        holder.join()
    with commit.locked(tmp_path / "host", "the third"):  # free again once the holder is gone
        pass
