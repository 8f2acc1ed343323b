"""BACKUP=BORG through the command line with the real borg: backups into a repository over ssh (our own sshd on
127.0.0.1) and on this machine, pruned, and restored with restoreonly --demo into a directory, compared item by
item (owners, modes, xattrs, ACLs, hard links, sparse files). The passphrase never reaches a command line, a
log or the rescue image's configuration, and every failure stops before anything is written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from rearbuild.backup.borg import PYTHON_EXCLUDES, python_packages
from rearbuild.collect.python import find_runtime
from rearbuild.run import run
from tests.conftest import RearEnv
from tests.integration.backup.conftest import SshServer, free_port
from tests.integration.conftest import Cli
from tests.integration.test_netfs_roundtrip import make_tree, restored_tree, snapshot

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.geteuid() != 0, reason="owners of other users need root")]

PASSPHRASE = "borg horse battery staple"


def configure(env: RearEnv, tree: Path, *extra: str, base: str = "borg-host") -> None:
    """BACKUP=BORG for the tree; borg's cache and security state in BORG_BASE_DIR (never root's home)."""
    lines = [
        "BACKUP=BORG",
        "BACKUP_ONLY_INCLUDE=y",
        f"BACKUP_PROG_INCLUDE=( '{tree}' )",
        "BACKUP_PROG_EXCLUDE=()",  # the default excludes /tmp/*, where the tree lives
        f"export BORG_BASE_DIR='{env.root / base}'",
        *extra,
    ]
    env.write("etc/local.conf", "\n".join(lines) + "\n")


def over_ssh(env: RearEnv, server: SshServer, *extra: str) -> tuple[str, ...]:
    return (
        "BORGBACKUP_HOST=127.0.0.1",
        "BORGBACKUP_USERNAME=root",
        f"BORGBACKUP_PORT={server.port}",
        f"BORGBACKUP_REPO={env.root / 'server/repo'}",
        f"export BORG_RSH='{server.rsh}'",
        *extra,
    )


def archives(env: RearEnv, repo: Path) -> list[str]:
    environment = {**os.environ, "BORG_BASE_DIR": str(env.root / "inspect"), "BORG_PASSPHRASE": PASSPHRASE}
    environment["BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK"] = "yes"
    out = run(["borg", "list", "--json", str(repo)], env=environment).out
    return [a["name"] for a in json.loads(out)["archives"]]


def test_encrypted_repository_over_ssh_backup_and_restore(env: RearEnv, cli: Cli, ssh_server: SshServer) -> None:
    tree = env.root / "tree"
    make_tree(tree)
    (tree / "sparse.img").unlink()  # the local test has the sparse file
    ssh = over_ssh(env, ssh_server, "BORGBACKUP_ENC_TYPE=repokey", "BORGBACKUP_INIT_MAKE_PARENT_DIRS=yes")
    configure(env, tree, *ssh, f"export BORG_PASSPHRASE='{PASSPHRASE}'")
    status, output = cli("mkbackuponly")
    assert status == 0, output
    repo = env.root / "server/repo"
    # initialised encrypted on first use (the key is in the repository: repokey), named like ReaR's archives
    assert "key = " in (repo / "config").read_text()
    assert archives(env, repo) == ["rear_1"]
    # the restore runs as in a fresh rescue system: borg has never seen this repository
    configure(env, tree, *ssh, f"export BORG_PASSPHRASE='{PASSPHRASE}'", base="borg-rescue")
    demo = env.root / "restored"
    status, output = cli("restoreonly", "--demo", str(demo))
    assert status == 0, output
    assert "rear_1" in output
    restored = restored_tree(demo, tree)
    assert snapshot(restored) == snapshot(tree)
    assert "user:1234:rwx" in run(["getfacl", "-cp", str(restored / "shared")]).out
    for log in env.log_dir.iterdir():
        assert PASSPHRASE not in log.read_text(errors="replace"), log
    assert PASSPHRASE not in output

    # Without the passphrase (the rescue image does not carry it) an unattended restore stops before writing.
    configure(env, tree, *ssh, base="borg-rescue")
    status, output = cli("-n", "restoreonly", "--demo", str(env.root / "nopass"))
    assert status == 1 and "no passphrase was given" in output and "BORG_PASSPHRASE" in output
    assert not any((env.root / "nopass").glob("*"))
    # A wrong one is found in verify, before anything is written.
    configure(env, tree, *ssh, "export BORG_PASSPHRASE=wrong", base="borg-rescue")
    status, output = cli("restoreonly", "--demo", str(env.root / "wrong"))
    assert status == 1 and "passphrase is wrong" in output
    assert not any((env.root / "wrong").glob("*"))


def test_local_repository_prunes_and_restores_the_chosen_archive(env: RearEnv, cli: Cli) -> None:
    tree = env.root / "tree"
    make_tree(tree)
    local = (f"BORGBACKUP_REPO={env.root / 'repo'}", "BORGBACKUP_ARCHIVE_PREFIX=host1", "BORGBACKUP_COMPRESSION=zstd,3")
    configure(env, tree, *local, "BORGBACKUP_PRUNE_KEEP_LAST=2")
    assert cli("mkbackuponly")[0] == 0
    assert cli("mkbackuponly")[0] == 0
    before = snapshot(tree)
    (tree / "later.txt").write_text("written after the second backup\n")
    assert cli("mkbackuponly")[0] == 0
    # numbered like ReaR's, and pruned to the last two
    assert archives(env, env.root / "repo") == ["host1_2", "host1_3"]
    configure(env, tree, *local, "USER_INPUT_BORGBACKUP_ARCHIVE_TO_RECOVER=1")
    demo = env.root / "first"
    status, output = cli("-n", "restoreonly", "--demo", str(demo))
    assert status == 0, output
    assert snapshot(restored_tree(demo, tree)) == before
    # borg extract --sparse punches holes for the all-zero chunks (the data-bearing ends stay allocated)
    sparse = os.stat(restored_tree(demo, tree) / "sparse.img")
    assert sparse.st_blocks * 512 <= sparse.st_size // 2
    configure(env, tree, *local, "USER_INPUT_BORGBACKUP_ARCHIVE_TO_RECOVER=7")
    status, output = cli("-n", "restoreonly", "--demo", str(env.root / "none"))
    assert status == 1 and "no such archive" in output
    assert not (env.root / "none").exists() or not any((env.root / "none").glob("*"))


def test_unreachable_server_stops_mkrescue_in_prep(env: RearEnv, cli: Cli, ssh_server: SshServer) -> None:
    tree = env.root / "tree"
    tree.mkdir()
    closed = free_port()
    configure(env, tree, *over_ssh(env, ssh_server), f"BORGBACKUP_PORT={closed}")
    status, output = cli("mkrescue")
    assert status == 1, output
    assert "does not answer" in output and "BORGBACKUP_PORT" in output
    assert "Traceback" not in output
    assert not any(env.var_dir.glob("output/**/*.iso"))
    # a prefix ReaR refuses is refused the same way, naming the setting
    configure(env, tree, "BORGBACKUP_REPO=/srv/repo", "BORGBACKUP_ARCHIVE_PREFIX=my_host")
    status, output = cli("mkbackuponly")
    assert status == 1 and "BORGBACKUP_ARCHIVE_PREFIX='my_host'" in output


def test_the_rescue_image_gets_what_debians_borg_imports(tmp_path: Path) -> None:
    """Debian's borg is a Python program: its packages and the standard-library modules they import (beyond
    rearbuild's own) go into the image. Checked by hand in a chroot of a collected manifest: borg 1.2.4 init,
    create and extract --numeric-ids ran there."""
    packages = {p.name for p in python_packages("/usr/bin/borg")}
    assert {"borg", "msgpack", "packaging"} <= packages and any(n.startswith("borgbackup-") for n in packages)
    runtime = find_runtime(package=Path("/usr/lib/python3/dist-packages/borg"), excludes=PYTHON_EXCLUDES)
    wanted = {"importlib/metadata/__init__.py", "email/__init__.py", "unittest/__init__.py", "hmac.py"}
    assert all(any(f.endswith("/" + w) for f in runtime.files) for w in wanted)
