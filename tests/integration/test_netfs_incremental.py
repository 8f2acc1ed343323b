"""BACKUP_TYPE=incremental|differential, BACKUP_INTEGRITY_CHECK and PRE/POST_BACKUP_SCRIPT through the command
line with the real GNU tar: a chain of backups of a changing tree restores to the tree as it was at the last
backup -- new, changed, renamed and deleted files included."""

from __future__ import annotations

import datetime
import os
import shutil
from pathlib import Path

import pytest

from rearbuild.backup.chain import WEEKDAYS
from rearbuild.run import run
from tests.conftest import RearEnv
from tests.integration.conftest import Cli
from tests.integration.test_netfs_roundtrip import archive_of, configure, restored_tree, snapshot

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="owners of other users need root"),
]


def _small_tree(root: Path) -> None:
    (root / "etc").mkdir(parents=True)
    (root / "etc/config").write_text("version=1\n")
    (root / "etc/gone").write_text("deleted before the second backup\n")
    (root / "data/deep").mkdir(parents=True)
    (root / "data/deep/blob").write_bytes(os.urandom(300_000))
    os.chown(root / "data/deep/blob", 1234, 5678)
    (root / "data/old-name").write_text("renamed later\n")
    (root / "dir-gone").mkdir()
    (root / "dir-gone/inside").write_text("x\n")


def _backup(cli: Cli) -> None:
    status, output = cli("mkbackuponly")
    assert status == 0, output


def _chain(env: RearEnv) -> list[str]:
    return sorted(p.name for p in archive_of(env, "").iterdir() if p.name.endswith(".tar.gz"))


def _restore(env: RearEnv, cli: Cli, tree: Path, name: str) -> Path:
    demo = env.root / name
    status, output = cli("restoreonly", "--demo", str(demo))
    assert status == 0, output
    return restored_tree(demo, tree)


def test_incremental_chain_restores_the_last_state(env: RearEnv, cli: Cli) -> None:
    tree = env.root / "tree"
    _small_tree(tree)
    configure(env, tree, "BACKUP_TYPE=incremental")
    _backup(cli)
    (tree / "etc/config").write_text("version=2\n")
    (tree / "etc/gone").unlink()
    (tree / "etc/new").write_text("new in the first increment\n")
    _backup(cli)
    (tree / "data/old-name").rename(tree / "data/new-name")
    shutil.rmtree(tree / "dir-gone")
    (tree / "etc/config").write_text("version=3\n")
    _backup(cli)
    names = _chain(env)
    assert [n[-9:] for n in names] == ["-F.tar.gz", "-I.tar.gz", "-I.tar.gz"], names
    # The second increment holds only what changed after the first: not the unchanged 300 kB blob.
    second = run(["tar", "-tzf", str(archive_of(env, names[2]))]).out
    assert "data/new-name" in second and "data/deep/blob" not in second
    restored = _restore(env, cli, tree, "restored")
    assert snapshot(restored) == snapshot(tree)
    assert not (restored / "etc/gone").exists() and not (restored / "dir-gone").exists()


def test_differential_restores_full_and_the_latest_differential(env: RearEnv, cli: Cli) -> None:
    tree = env.root / "tree"
    _small_tree(tree)
    configure(env, tree, "BACKUP_TYPE=differential")
    _backup(cli)
    (tree / "etc/config").write_text("version=2\n")
    _backup(cli)
    (tree / "etc/gone").unlink()
    _backup(cli)
    names = _chain(env)
    assert [n[-9:] for n in names] == ["-F.tar.gz", "-D.tar.gz", "-D.tar.gz"], names
    # Each differential holds everything since the full backup: the latest one has the first change too.
    assert "etc/config" in run(["tar", "-tzf", str(archive_of(env, names[2]))]).out
    # The restore does not need the middle archive.
    archive_of(env, names[1]).unlink()
    restored = _restore(env, cli, tree, "restored")
    assert snapshot(restored) == snapshot(tree)


def test_fullbackupday_today_makes_every_backup_full(env: RearEnv, cli: Cli) -> None:
    tree = env.root / "tree"
    _small_tree(tree)
    today = WEEKDAYS[datetime.datetime.now().weekday()]
    configure(env, tree, "BACKUP_TYPE=incremental", f"FULLBACKUPDAY=( {today} )")
    _backup(cli)
    _backup(cli)
    assert [n[-9:] for n in _chain(env)] == ["-F.tar.gz", "-F.tar.gz"]


def test_integrity_check_writes_reaRs_md5_and_refuses_a_mismatch(env: RearEnv, cli: Cli) -> None:
    tree = env.root / "tree"
    _small_tree(tree)
    configure(env, tree, "BACKUP_INTEGRITY_CHECK=y")
    _backup(cli)
    run(["md5sum", "-c", "backup.tar.gz.md5"], cwd=archive_of(env).parent)
    archive_of(env, "backup.tar.gz.md5").write_text("0" * 32 + "  backup.tar.gz\n")
    demo = env.root / "restored"
    status, output = cli("restoreonly", "--demo", str(demo))
    assert status == 1 and "integrity check failed" in output
    assert not any(demo.glob("*"))


def test_post_backup_script_runs_after_a_failed_backup_only_with_a_pre_script(env: RearEnv, cli: Cli) -> None:
    tree = env.root / "tree"
    _small_tree(tree)
    log = env.root / "scripts.log"
    pre = f"PRE_BACKUP_SCRIPT='echo pre >> {log}'"
    post = f"POST_BACKUP_SCRIPT=( echo post '>>' {log} )"
    configure(env, tree, pre, post)
    _backup(cli)
    assert log.read_text() == "pre\npost\n"
    # A backup that fails (nothing to back up): ReaR's exit task runs POST_BACKUP_SCRIPT after the PRE one.
    log.unlink()
    configure(env, tree, pre, post, f"BACKUP_PROG_INCLUDE=( '{env.root}/missing' )")
    assert cli("mkbackuponly")[0] == 1
    assert log.read_text() == "pre\npost\n"
    # Without a PRE script, a failed backup does not run the POST one.
    log.unlink()
    configure(env, tree, post, f"BACKUP_PROG_INCLUDE=( '{env.root}/missing' )")
    assert cli("mkbackuponly")[0] == 1
    assert not log.exists()
    # A failing PRE script stops the backup and says which setting failed.
    configure(env, tree, "PRE_BACKUP_SCRIPT='exit 3'", post)
    status, output = cli("mkbackuponly")
    assert status == 1 and "PRE_BACKUP_SCRIPT exited with 3" in output
    assert log.read_text() == "post\n"


def test_gzip_backup_is_written_in_parallel_and_read_by_plain_gzip(env: RearEnv, cli: Cli) -> None:
    tree = env.root / "tree"
    _small_tree(tree)
    configure(env, tree)
    _backup(cli)
    logs = "".join(p.read_text(errors="replace") for p in env.log_dir.iterdir())
    assert "pigz" in logs
    listing = run(["sh", "-c", f"gzip -dc '{archive_of(env)}' | tar -t"]).out
    assert "data/deep/blob" in listing
