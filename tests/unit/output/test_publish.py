"""Publishing results: OUTPUT_URL (or a file:// BACKUP_URL), the copies, the .sha256 beside each, the log."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from pathlib import Path

import pytest

from rearbuild.errors import UserError
from rearbuild.output.publish import destination, publish


def _result(tmp_path: Path, name: str = "rescue.iso", data: bytes = b"an image") -> Path:
    built = tmp_path / "build"
    built.mkdir(exist_ok=True)
    path = built / name
    path.write_bytes(data)
    return path


def test_destination() -> None:
    assert destination("file:///srv/out", "", "host1") == Path("/srv/out/host1")
    assert destination("", "file:///srv/backup", "host1") == Path("/srv/backup/host1")
    assert destination("file:///srv/out", "file:///srv/backup", "") == Path("/srv/out")
    assert destination("", "usb:///dev/sdb1", "host1") is None  # not writable as OUTPUT_URL: not inherited
    assert destination("", "", "host1") is None
    assert destination("null://", "file:///srv/backup", "host1") is None
    assert destination("null", "file:///srv/backup", "host1") is None  # ReaR's OUTPUT_URL=null


def test_publish_copies_with_sha256_and_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # handlers other tests left on the logger (on streams pytest has closed) are not this run's log
    monkeypatch.setattr(logging.getLogger("rearbuild"), "handlers", [])
    iso = _result(tmp_path)
    extra = _result(tmp_path, "notes.txt", b"notes")
    log_file = tmp_path / "rearbuild.log"
    log_file.write_text("the log\n")
    out = tmp_path / "out"
    known = {iso: "0" * 64}  # a digest computed while writing is trusted, not recomputed
    published = publish(
        [iso, extra], output_url=f"file://{out}", backup_url="", prefix="host1", known=known, log_file=log_file
    )
    assert published == [out / "host1/rescue.iso", out / "host1/notes.txt"]
    assert (out / "host1/rescue.iso").read_bytes() == b"an image"
    assert (out / "host1/rescue.iso.sha256").read_text() == f"{'0' * 64}  rescue.iso\n"
    assert (out / "host1/notes.txt.sha256").read_text() == f"{hashlib.sha256(b'notes').hexdigest()}  notes.txt\n"
    assert (out / "host1/rearbuild.log").read_text() == "the log\n"
    assert not list(out.rglob("*.part"))


def test_without_a_destination_the_results_stay_with_their_sha256(tmp_path: Path) -> None:
    iso = _result(tmp_path)
    assert publish([iso], output_url="", backup_url="", prefix="", known={}, log_file=None) == [iso]
    assert iso.with_name("rescue.iso.sha256").read_text() == f"{hashlib.sha256(b'an image').hexdigest()}  rescue.iso\n"


def test_nothing_to_publish_checks_no_url(tmp_path: Path) -> None:
    assert publish([], output_url="nfs://server/x", backup_url="", prefix="", known={}, log_file=None) == []


def test_missing_result_and_unwritable_destination(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        publish([tmp_path / "none.iso"], output_url="", backup_url="", prefix="", known={}, log_file=None)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UserError, match="cannot create"):
        publish([_result(tmp_path)], output_url=f"file://{blocker}", backup_url="", prefix="p", known={},
                log_file=None)


def test_a_private_result_stays_private_when_published(tmp_path: Path) -> None:
    iso = _result(tmp_path)
    iso.chmod(0o600)  # an ISO that holds a backup (BACKUP_URL=iso://)
    out = tmp_path / "out"
    previous = os.umask(0)
    try:
        publish([iso], output_url=f"file://{out}", backup_url="", prefix="h", known={}, log_file=None)
    finally:
        os.umask(previous)
    assert stat.S_IMODE((out / "h/rescue.iso").stat().st_mode) == 0o600


def test_artifact_stores_are_no_directory_and_publish_takes_only_stores() -> None:
    from rearbuild.output.publish import store_url

    assert destination("s3://bucket/out", "", "host1") is None  # the results stay where they were built too
    assert store_url("oci://127.0.0.1:5000/rescue/web01:v1").host == "127.0.0.1:5000"
    with pytest.raises(UserError, match="not an artifact store"):
        store_url("file:///srv/out")


def test_publish_without_files_needs_a_recorded_build(tmp_path: Path) -> None:
    from rearbuild.output.publish import read_latest, record_latest
    from rearbuild.output.stores.metadata import Provenance

    with pytest.raises(UserError, match="no results of this host recorded"):
        read_latest(tmp_path / "latest.json")
    iso = _result(tmp_path)
    provenance = Provenance("web01", "6.1", "0.1.0", "", 1)
    record_latest(tmp_path / "latest.json", [iso], provenance)
    assert read_latest(tmp_path / "latest.json") == ([iso.resolve()], provenance)


def test_output_url_null_keeps_the_results_where_they_were_built(tmp_path: Path) -> None:
    # ReaR's OUTPUT_URL=null (used with BACKUP_URL=iso:///backup): accepted at the end of mkbackup, copied nowhere
    iso = _result(tmp_path)
    publish([iso], output_url="null", backup_url="iso:///backup", prefix="host1", known={}, log_file=None)
    assert iso.is_file() and sorted(p.name for p in tmp_path.rglob("*") if p.is_file())[0] == "rescue.iso"


def test_keep_old_output_copy_moves_the_previous_results_aside(tmp_path: Path) -> None:
    out = tmp_path / "out"
    publish([_result(tmp_path, data=b"first")], output_url=f"file://{out}", backup_url="", prefix="h", known={},
            log_file=None)  # fmt: skip
    publish([_result(tmp_path, data=b"second")], output_url=f"file://{out}", backup_url="", prefix="h", known={},
            log_file=None, keep_old=True)  # fmt: skip
    assert (out / "h/rescue.iso").read_bytes() == b"second"
    assert (out / "h.old/rescue.iso").read_bytes() == b"first"
    publish([_result(tmp_path, data=b"third")], output_url=f"file://{out}", backup_url="", prefix="h", known={},
            log_file=None, keep_old=True)  # fmt: skip
    assert (out / "h.old/rescue.iso").read_bytes() == b"second"  # one old copy, as ReaR keeps
    publish([_result(tmp_path, data=b"fourth")], output_url=f"file://{out}", backup_url="", prefix="h", known={},
            log_file=None)  # fmt: skip
    assert (out / "h.old/rescue.iso").read_bytes() == b"second"  # without the setting the old copy is untouched


def test_keep_old_output_copy_leaves_a_shared_backup_directory_in_place(tmp_path: Path) -> None:
    shared = tmp_path / "backup"
    (shared / "h").mkdir(parents=True)
    (shared / "h" / "backup.tar.gz").write_bytes(b"the backup the rescue system restores")
    publish([_result(tmp_path)], output_url="", backup_url=f"file://{shared}", prefix="h", known={}, log_file=None,
            keep_old=True, protect=shared / "h")  # fmt: skip
    assert (shared / "h" / "backup.tar.gz").is_file() and (shared / "h" / "rescue.iso").is_file()
    assert not (shared / "h.old").exists()


def test_a_usb_output_url_copies_nothing_beside_the_medium(tmp_path: Path) -> None:
    # OUTPUT=USB wrote the stick itself: the results are not copied to a path below /dev
    assert destination("usb:///dev/disk/by-label/REAR-000", "", "host1") is None
    iso = _result(tmp_path)
    assert publish([iso], output_url="usb:///dev/disk/by-label/REAR-000", backup_url="", prefix="host1", known={},
                   log_file=None) == [iso]  # fmt: skip
