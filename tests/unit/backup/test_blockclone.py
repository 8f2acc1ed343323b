from __future__ import annotations

import pytest

from rearbuild.backup.blockclone import Program, settings
from rearbuild.errors import UserError
from tests.conftest import RearEnv, shipped_config

BASE = "BACKUP=BLOCKCLONE\nBACKUP_URL=file:///srv/backup\n"


def test_programs_as_rear_names_them() -> None:
    assert Program.of("dd") is Program.DD and Program.of("/usr/sbin/ntfsclone") is Program.NTFSCLONE
    assert Program.of("partclone.ext4") is Program.PARTCLONE
    with pytest.raises(UserError, match="dd, ntfsclone or partclone"):
        Program.of("clonezilla")


def test_settings_name_the_image_as_rear(rear_env: RearEnv) -> None:
    s = settings(shipped_config(rear_env, BASE + "BLOCKCLONE_SOURCE_DEV=/dev/sda1\nBLOCKCLONE_PROG_OPTS='-q -x'\n"))
    assert s.archive_name == "backup.tar.gz" and s.program is Program.DD  # ReaR's name; dd when empty
    assert s.program_options == ("-q", "-x") and s.mbr_file == "boot_strap.img"


def test_what_is_refused(rear_env: RearEnv) -> None:
    with pytest.raises(UserError, match="needs BLOCKCLONE_SOURCE_DEV"):
        settings(shipped_config(rear_env, BASE))
    with pytest.raises(UserError, match="BLOCKCLONE_TRY_UNMOUNT is not supported"):
        settings(shipped_config(rear_env, BASE + "BLOCKCLONE_SOURCE_DEV=/dev/sda1\nBLOCKCLONE_TRY_UNMOUNT=yes\n"))
