from __future__ import annotations

import pytest

from rearbuild.backup.borg import choose_archive, next_archive, passphrase, settings
from rearbuild.build.generated import blanked_secrets, config_entries
from rearbuild.errors import UserError
from tests.conftest import RearEnv, shipped_config

BORG = "BACKUP=BORG\nBORGBACKUP_HOST=srv\nBORGBACKUP_USERNAME=backup\nBORGBACKUP_REPO=/borg/host\n"


def test_settings_as_rear_composes_them(rear_env: RearEnv) -> None:
    extra = (
        "BORGBACKUP_PRUNE_KEEP_DAILY=7\nBORGBACKUP_PRUNE_KEEP_WITHIN=2d\nBORGBACKUP_UMASK=0077\nBORGBACKUP_PORT=2222\n"
    )
    s = settings(shipped_config(rear_env, BORG + extra + "export BORG_PASSPHRASE='pw'\nBORGBACKUP_SHOW_STATS=y\n"))
    assert s.location == "ssh://backup@srv:2222/borg/host"
    assert s.prune == ("--keep-within", "2d", "--keep-daily", "7")  # ReaR's order (borg_set_vars)
    assert s.common == ("--umask", "0077")
    assert s.create.options() == ("--stats",) and s.prune_shown.options() == ("--stats",)
    assert s.env()["BORG_PASSPHRASE"] == "pw" and "pw" not in repr(s)


def test_local_repository_and_bad_names(rear_env: RearEnv) -> None:
    s = settings(shipped_config(rear_env, "BACKUP=BORG\nBORGBACKUP_REPO=/srv/repo\n"))
    assert s.location == "/srv/repo" and s.prefix == "rear"
    with pytest.raises(UserError, match="alphanumeric"):
        settings(shipped_config(rear_env, "BACKUP=BORG\nBORGBACKUP_REPO=/r\nBORGBACKUP_ARCHIVE_PREFIX=a_b\n"))
    with pytest.raises(UserError, match="beginning with /"):
        settings(shipped_config(rear_env, "BACKUP=BORG\nBORGBACKUP_REPO=repo\n"))


def test_archive_numbers_and_choice(rear_env: RearEnv) -> None:
    s = settings(shipped_config(rear_env, BORG))
    assert next_archive(s, ("rear_2", "rear_10", "other_99", "rear_x")) == "rear_11"
    assert next_archive(s, ()) == "rear_1"
    names = ("rear_1", "rear_2")
    assert choose_archive(s, names, interactive=False) == "rear_2"
    chosen = settings(shipped_config(rear_env, BORG + "USER_INPUT_BORGBACKUP_ARCHIVE_TO_RECOVER=1\n"))
    assert choose_archive(chosen, names, interactive=False) == "rear_1"
    with pytest.raises(UserError, match="holds no archive"):
        choose_archive(s, (), interactive=False)


def test_an_encrypted_repository_without_passphrase_stops_unattended(rear_env: RearEnv) -> None:
    s = settings(shipped_config(rear_env, BORG + "BORGBACKUP_ENC_TYPE=repokey\n"))
    with pytest.raises(UserError, match="no passphrase was given"):
        passphrase(s, interactive=False)
    assert passphrase(s, typed="typed", interactive=False).env()["BORG_PASSPHRASE"] == "typed"


def test_the_image_configuration_carries_no_passphrase_unless_asked(rear_env: RearEnv) -> None:
    rear_env.write("etc/local.conf", "BACKUP=BORG\nexport BORG_PASSPHRASE='s3cr3t' # the repo key\n")
    blanked = config_entries(rear_env.config_dir, secrets=blanked_secrets(keep_borg_passphrase=False))
    (conf,) = [e for e in blanked if e.path.endswith("local.conf")]
    assert conf.data is not None and b"s3cr3t" not in conf.data and b"# the repo key" in conf.data
    kept = config_entries(rear_env.config_dir, secrets=blanked_secrets(keep_borg_passphrase=True))
    (conf,) = [e for e in kept if e.path.endswith("local.conf")]
    assert conf.source is not None and b"s3cr3t" in conf.source.read_bytes()


def test_exclude_mountpoints_reach_the_borg_selection(rear_env: RearEnv) -> None:
    s = settings(shipped_config(rear_env, "BACKUP=BORG\nBORGBACKUP_REPO=/srv/repo\nEXCLUDE_MOUNTPOINTS=( /home )\n"))
    assert s.exclude_mountpoints == ("/home",)
