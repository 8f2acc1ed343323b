"""BACKUP=RSYNC through the command line with the real rsync: a backup to our own rsync daemon and over our own
sshd (both on 127.0.0.1), restored with restoreonly --demo into a directory and compared item by item; an
unreachable server stops mkrescue in prep, a missing backup stops the restore before anything is written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import RearEnv
from tests.integration.backup.conftest import RsyncDaemon, SshServer, free_port
from tests.integration.conftest import Cli
from tests.integration.test_netfs_roundtrip import make_tree, restored_tree, snapshot

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.geteuid() != 0, reason="owners of other users need root")]


def configure(env: RearEnv, tree: Path, url: str, *extra: str) -> None:
    lines = [
        "BACKUP=RSYNC",
        f"BACKUP_URL={url}",
        "RSYNC_PREFIX=host1",
        "BACKUP_ONLY_INCLUDE=y",
        f"BACKUP_PROG_INCLUDE=( '{tree}' )",
        "BACKUP_PROG_EXCLUDE=( /nothing )",  # the default excludes /tmp/*, where the tree lives
        *extra,
    ]
    env.write("etc/local.conf", "\n".join(lines) + "\n")


def test_rsync_daemon_backup_and_restore_keep_everything(env: RearEnv, cli: Cli, rsync_daemon: RsyncDaemon) -> None:
    tree = env.root / "tree"
    make_tree(tree)
    url = f"rsync://root@127.0.0.1:{rsync_daemon.port}::/backup/{env.root.name}"
    (rsync_daemon.module_dir / env.root.name).mkdir()
    # xattrs and ACLs need rsync's -X -A, which ReaR's default options leave out
    configure(env, tree, url, "BACKUP_RSYNC_OPTIONS+=( --xattrs --acls )")
    status, output = cli("mkbackuponly")
    assert status == 0, output
    stored = rsync_daemon.module_dir / env.root.name / "host1/backup" / str(tree).lstrip("/")
    assert (stored / "etc/config").read_text() == "key=value\n"
    # a file gone from the source goes from the mirror at the next backup (--delete)
    (tree / "etc/config").rename(tree / "etc/config.moved")
    assert cli("mkbackuponly")[0] == 0
    assert not (stored / "etc/config").exists() and (stored / "etc/config.moved").is_file()
    demo = env.root / "restored"
    status, output = cli("restoreonly", "--demo", str(demo))
    assert status == 0, output
    restored = restored_tree(demo, tree)
    assert snapshot(restored) == snapshot(tree)
    assert os.stat(restored / "sparse.img").st_blocks * 512 < 1 << 20, "holes kept (--sparse)"


def test_over_ssh_with_the_default_options(env: RearEnv, cli: Cli, ssh_server: SshServer) -> None:
    tree = env.root / "tree"
    make_tree(tree)
    (tree / "sparse.img").unlink()  # 64 MiB through ssh twice costs half a minute here; the daemon test has it
    server = env.root / "server"
    server.mkdir()
    # ssh options in BACKUP_RSYNC_OPTIONS (-e) serve prep's check, the backup and the restore alike
    rsh = f"{ssh_server.rsh} -p {ssh_server.port}"
    configure(env, tree, f"rsync://root@127.0.0.1{server}", f"BACKUP_RSYNC_OPTIONS+=( -e '{rsh}' )")
    status, output = cli("mkbackuponly")
    assert status == 0, output
    assert (server / "host1/backup" / str(tree).lstrip("/") / "etc/config").is_file()
    demo = env.root / "restored"
    status, output = cli("restoreonly", "--demo", str(demo))
    assert status == 0, output
    # ReaR's default options keep contents, owners, modes, times, hard links, links, sparse files and FIFOs
    strip = {k: v[:-1] for k, v in snapshot(tree).items()}  # (without xattrs: not in the default options)
    assert {k: v[:-1] for k, v in snapshot(restored_tree(demo, tree)).items()} == strip


def test_failures_stop_early(env: RearEnv, cli: Cli, rsync_daemon: RsyncDaemon) -> None:
    tree = env.root / "tree"
    tree.mkdir()
    configure(env, tree, f"rsync://127.0.0.1:{free_port()}::/backup/x")
    status, output = cli("mkrescue")
    assert status == 1 and "the rsync daemon does not answer" in output and "Traceback" not in output
    configure(env, tree, f"rsync://127.0.0.1:{rsync_daemon.port}::/backup/never-backed-up")
    demo = env.root / "restored"
    status, output = cli("restoreonly", "--demo", str(demo))
    assert status == 1 and "no backup at" in output and "nothing was written" in output
    assert not demo.exists() or not any(demo.iterdir())
    configure(env, tree, "file:///srv/backup")
    status, output = cli("mkbackuponly")
    assert status == 1 and "is not an rsync URL" in output
