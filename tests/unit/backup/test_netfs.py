"""BACKUP=NETFS settings read from a real configuration: the key rules, and where iso:// may go."""

from __future__ import annotations

from pathlib import Path

import pytest

from rearbuild.backup.netfs import KeyNeed, check_destination, settings, verify_backup
from rearbuild.errors import UserError
from tests.conftest import RearEnv, shipped_config

NETFS = "BACKUP=NETFS\nBACKUP_URL=file:///srv/backup\n"
ENCRYPTED = NETFS + "BACKUP_PROG_CRYPT_ENABLED=yes\n"


def test_settings_of_a_plain_configuration(rear_env: RearEnv) -> None:
    s = settings(shipped_config(rear_env, NETFS + "BACKUP_PROG_EXCLUDE+=( /srv/big )\n"), key=KeyNeed.CONFIGURED)
    assert s.archive.name == "backup.tar.gz" and s.prefix == "host" and s.key == ""
    assert "/srv/big" in s.exclude and s.archive.encryption is None


def test_the_key_comes_from_the_configuration(rear_env: RearEnv) -> None:
    s = settings(shipped_config(rear_env, ENCRYPTED + "BACKUP_PROG_CRYPT_KEY='s3cr3t'\n"), key=KeyNeed.ASK)
    assert s.key == "s3cr3t"
    assert "s3cr3t" not in repr(s)  # a settings object in a log or traceback shows no key


def test_backing_up_encrypted_without_a_key_is_refused(rear_env: RearEnv) -> None:
    with pytest.raises(UserError, match="BACKUP_PROG_CRYPT_KEY is empty"):
        settings(shipped_config(rear_env, ENCRYPTED), key=KeyNeed.CONFIGURED)


def test_building_the_image_does_not_need_the_key(rear_env: RearEnv) -> None:
    s = settings(shipped_config(rear_env, ENCRYPTED), key=KeyNeed.NONE)
    assert s.archive.encryption is not None  # the image still knows the archive is encrypted


def test_restoring_without_a_key_asks_or_stops(rear_env: RearEnv) -> None:
    config = shipped_config(rear_env, ENCRYPTED)
    assert settings(config, key=KeyNeed.ASK, typed_key="typed earlier").key == "typed earlier"
    with pytest.raises(UserError, match="no key was given"):
        settings(config, key=KeyNeed.ASK, interactive=False)


def test_iso_urls_only_where_an_iso_is_built(rear_env: RearEnv) -> None:
    s = settings(shipped_config(rear_env, "BACKUP=NETFS\nBACKUP_URL=iso:///backup\n"), key=KeyNeed.CONFIGURED)
    check_destination(s, backing_up=True, builds_iso=True)
    check_destination(s, backing_up=False, builds_iso=False)  # recovery reads it from the ISO
    with pytest.raises(UserError, match="only mkbackup with OUTPUT=ISO"):
        check_destination(s, backing_up=True, builds_iso=False)


def test_an_array_backup_url_is_refused_with_its_line(rear_env: RearEnv) -> None:
    config = shipped_config(rear_env, "BACKUP=NETFS\nBACKUP_URL=( file:///a file:///b )\n")
    with pytest.raises(UserError, match=r"local\.conf:2: BACKUP_URL is an array") as raised:
        settings(config, key=KeyNeed.CONFIGURED)
    assert "without parentheses" in (raised.value.hint or "")


@pytest.mark.parametrize(
    "typo", ["BACKUP_PROG_CRYPT_ENABLE", "BACKUP_PROG_CRYPT_ENABLED_", "BACKUP_PROG_CRYPTENABLED", "BACKUP_CRYPT_KEY"]
)
def test_an_encryption_setting_with_a_typo_stops_the_run(rear_env: RearEnv, typo: str) -> None:
    config = shipped_config(rear_env, NETFS + f"{typo}=y\n")
    with pytest.raises(UserError, match=rf"local\.conf:3: {typo} is not a rearbuild setting") as raised:
        settings(config, key=KeyNeed.CONFIGURED)
    assert "BACKUP_PROG_CRYPT_" in raised.value.message and "unencrypted" in raised.value.message


def test_the_right_encryption_names_pass(rear_env: RearEnv) -> None:
    s = settings(shipped_config(rear_env, ENCRYPTED + "BACKUP_PROG_CRYPT_KEY=k\n"), key=KeyNeed.CONFIGURED)
    assert s.key == "k"


def test_a_missing_archive_names_the_kept_old_copy(rear_env: RearEnv, tmp_path: Path) -> None:
    location = tmp_path / "location"
    kept = location / "host.old" / "backup.tar.gz"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"an older backup")
    (location / "host").mkdir()  # a backup run that failed after keeping the previous one
    config = shipped_config(rear_env, f"BACKUP=NETFS\nBACKUP_URL=file://{location}\nNETFS_KEEP_OLD_BACKUP_COPY=y\n")
    with pytest.raises(UserError, match="no backup archive") as raised:
        verify_backup(settings(config, key=KeyNeed.ASK), tmp_path / "mnt")
    assert str(kept) in raised.value.message + (raised.value.hint or "")
    assert "NETFS_KEEP_OLD_BACKUP_COPY" in (raised.value.hint or "")


def test_exclude_mountpoints_reach_the_backup_selection(rear_env: RearEnv) -> None:
    s = settings(shipped_config(rear_env, NETFS + "EXCLUDE_MOUNTPOINTS=( /srv/data /home )\n"), key=KeyNeed.CONFIGURED)
    assert s.exclude_mountpoints == ("/srv/data", "/home")


def test_backup_type_settings(rear_env: RearEnv) -> None:
    s = settings(
        shipped_config(rear_env, NETFS + "BACKUP_TYPE=differential\nFULLBACKUP_OUTDATED_DAYS=\n"), key=KeyNeed.NONE
    )
    assert s.chain.kind.chained and s.chain.outdated_days == 7  # empty: ReaR's default
    with pytest.raises(UserError, match="BACKUP_TYPE='weekly' is not a backup type"):
        settings(shipped_config(rear_env, NETFS + "BACKUP_TYPE=weekly\n"), key=KeyNeed.NONE)
    iso = "BACKUP=NETFS\nBACKUP_URL=iso:///backup\nBACKUP_TYPE=incremental\n"
    with pytest.raises(UserError, match="each rescue ISO would hold only one level"):
        settings(shipped_config(rear_env, iso), key=KeyNeed.NONE)
