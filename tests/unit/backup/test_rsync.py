from __future__ import annotations

import pytest

from rearbuild.backup.rsync import RsyncLocation, parse_url, settings
from rearbuild.errors import UserError
from tests.conftest import RearEnv, shipped_config


@pytest.mark.parametrize(
    ("url", "location", "remote"),
    [
        ("rsync://srv/backup", RsyncLocation(False, "root", "srv", "", "/backup"), "root@srv:/backup/h/backup"),
        ("rsync://bk@srv:2222/b", RsyncLocation(False, "bk", "srv", "2222", "/b"), "bk@srv:/b/h/backup"),
        (
            "rsync://srv::/mod/sub",
            RsyncLocation(True, "root", "srv", "", "mod/sub"),
            "rsync://root@srv/mod/sub/h/backup",
        ),
        ("rsync://u@srv:8873::/mod", RsyncLocation(True, "u", "srv", "8873", "mod"), "rsync://u@srv:8873/mod/h/backup"),
        ("srv:/backup", RsyncLocation(False, "root", "srv", "", "/backup"), "root@srv:/backup/h/backup"),
        ("u@srv::mod", RsyncLocation(True, "u", "srv", "", "mod"), "rsync://u@srv/mod/h/backup"),
    ],
)
def test_reaR_url_forms(url: str, location: RsyncLocation, remote: str) -> None:
    assert parse_url(url) == location
    assert location.remote("h") == remote


@pytest.mark.parametrize("url", ["file:///backup", "rsync://srv", "rsync://srv:x/b", "backup"])
def test_bad_urls_name_the_forms(url: str) -> None:
    with pytest.raises(UserError, match="BACKUP_URL"):
        parse_url(url)


def test_a_url_port_reaches_ssh_unless_the_options_name_a_shell(rear_env: RearEnv) -> None:
    s = settings(shipped_config(rear_env, "BACKUP=RSYNC\nBACKUP_URL=rsync://srv:2222/b\n"))
    assert s.transfer_options()[-1] == "--rsh=ssh -p 2222" and s.prefix == "host"
    s = settings(
        shipped_config(rear_env, "BACKUP=RSYNC\nBACKUP_URL=rsync://srv:2222/b\nBACKUP_RSYNC_OPTIONS+=( -e 'ssh -x' )\n")
    )
    assert "--rsh=ssh -p 2222" not in s.transfer_options()
    assert s.options[:5] == ("--sparse", "--archive", "--hard-links", "--numeric-ids", "--stats")  # ReaR's default


def test_exclude_mountpoints_reach_the_rsync_selection(rear_env: RearEnv) -> None:
    s = settings(shipped_config(rear_env, "BACKUP=RSYNC\nBACKUP_URL=rsync://srv/b\nEXCLUDE_MOUNTPOINTS=( /home )\n"))
    assert s.exclude_mountpoints == ("/home",)
