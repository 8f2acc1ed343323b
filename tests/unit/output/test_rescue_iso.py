"""The rescue ISO's settings: kernel command line, extra files, the file size limit, the EFI loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from rearbuild.errors import UserError
from rearbuild.output.rescue_iso import check_file_sizes, extra_iso_files, rescue_cmdline


def test_consoles_first_then_the_user_then_copied_parameters_once() -> None:
    words = rescue_cmdline(["net.ifnames=0", "debug"], copied=["net.ifnames=0", "biosdevname=0"])
    assert words == ["console=tty0", "console=ttyS0,115200", "net.ifnames=0", "debug", "biosdevname=0"]


def test_extra_files_at_the_root_and_from_stages(tmp_path: Path) -> None:
    files = extra_iso_files([str(tmp_path / "notes" / "README")], {"backup/backup.tar.gz": tmp_path / "a.tgz"})
    assert files == {"/README": tmp_path / "notes" / "README", "/backup/backup.tar.gz": tmp_path / "a.tgz"}


def test_a_file_at_the_limit_is_refused(tmp_path: Path) -> None:
    initrd = tmp_path / "initrd"
    initrd.write_bytes(b"x" * 100)
    check_file_sizes({"initrd": initrd}, 101)
    with pytest.raises(UserError, match=r"initrd \(100 bytes\) is larger than ISO_FILE_SIZE_LIMIT"):
        check_file_sizes({"initrd": initrd}, 100)
