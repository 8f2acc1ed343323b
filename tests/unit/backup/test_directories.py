"""The directory record written beside the archive and replayed after the restore (backup/directories.py)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from rearbuild.backup import directories


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
