from __future__ import annotations

from pathlib import Path

import pytest

from rearbuild.backup.bacula import resource, settings
from rearbuild.errors import UserError
from tests.conftest import RearEnv, shipped_config

FD_CONF = """# a comment { with braces }
Director {
  Name = bacula-dir
  Password = "secret"
}
FileDaemon {                          # this is me
  Name = host1-fd
  FD Port = 9202
  FDAddress = 10.0.0.5; WorkingDirectory = "/var/lib/bacula"
}
"""


def test_resource_reads_bacula_directives() -> None:
    fd = resource(FD_CONF, "FileDaemon")
    assert fd["name"] == "host1-fd" and fd["fdport"] == "9202" and fd["fdaddress"] == "10.0.0.5"
    assert fd["workingdirectory"] == "/var/lib/bacula"
    assert resource(FD_CONF, "Storage") == {}


def test_the_client_comes_from_bacula_fd_conf(rear_env: RearEnv, tmp_path: Path) -> None:
    (tmp_path / "bacula-fd.conf").write_text(FD_CONF)
    s = settings(shipped_config(rear_env, f"BACKUP=BACULA\nBACULA_CONF_DIR={tmp_path}\n"))
    assert s.client == "host1-fd" and not s.director_less and s.programs[:2] == ("bacula-fd", "bconsole")
    s = settings(shipped_config(rear_env, f"BACKUP=BACULA\nBACULA_CONF_DIR={tmp_path}\nBEXTRACT_VOLUME='*'\n"))
    assert s.director_less
    with pytest.raises(UserError, match="BACULA_CONF_DIR=/nonexistent is not a directory"):
        settings(shipped_config(rear_env, "BACKUP=BACULA\nBACULA_CONF_DIR=/nonexistent\n"))
