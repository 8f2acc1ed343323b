"""BACKUP=BACULA through the command line against Debian's Bacula on 127.0.0.1 (director with an SQLite catalog,
storage and file daemons, our own configuration): one full backup made by Bacula is restored with restoreonly
--demo director-less with bextract, and through the director (automatic), and compared item by item; a wrong
volume and an unreachable director stop before anything is written."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import RearEnv
from tests.integration.backup.conftest import Bacula, free_port
from tests.integration.conftest import Cli
from tests.integration.test_netfs_roundtrip import restored_tree, snapshot

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.geteuid() != 0, reason="Bacula restores owners as root")]


def configure(env: RearEnv, conf_dir: Path, *extra: str) -> None:
    env.write("etc/local.conf", "\n".join(["BACKUP=BACULA", f"BACULA_CONF_DIR={conf_dir}", *extra]) + "\n")


def without_xattrs(tree: Path) -> dict[str, tuple[object, ...]]:
    return {k: v[:-1] for k, v in snapshot(tree).items()}


def test_bextract_restores_a_volume_without_director(env: RearEnv, cli: Cli, bacula: Bacula) -> None:
    volume = ("BEXTRACT_VOLUME=Vol-0001", f"BEXTRACT_DEVICE={bacula.volumes}")
    configure(env, bacula.conf_dir, *volume)
    demo = env.root / "restored"
    status, output = cli("restoreonly", "--demo", str(demo))
    assert status == 0, output
    # bextract restores contents, owners, modes, times, links, hard links, FIFOs (not xattrs and ACLs)
    assert without_xattrs(restored_tree(demo, bacula.tree)) == without_xattrs(bacula.tree)
    configure(env, bacula.conf_dir, "BEXTRACT_VOLUME=Vol-0099", f"BEXTRACT_DEVICE={bacula.volumes}")
    status, output = cli("restoreonly", "--demo", str(env.root / "wrong"))
    assert status == 1 and "bls cannot read volume Vol-0099" in output and "nothing was written" in output
    assert not (env.root / "wrong").exists() or not any((env.root / "wrong").iterdir())


def test_restore_through_the_director(env: RearEnv, cli: Cli, bacula: Bacula) -> None:
    configure(env, bacula.conf_dir)
    status, output = cli("-n", "restoreonly", "--demo", str(env.root / "nobody"))
    assert status == 1 and "BACULA_RESTORE_AUTOMATIC=yes" in output
    configure(env, bacula.conf_dir, "BACULA_RESTORE_AUTOMATIC=yes")
    demo = env.root / "restored"
    status, output = cli("-n", "restoreonly", "--demo", str(demo))
    assert status == 0, output
    assert "Restore OK" in output
    assert snapshot(restored_tree(demo, bacula.tree)) == snapshot(bacula.tree)  # xattrs and ACLs too


def test_unreachable_director_stops_mkrescue_in_prep(env: RearEnv, cli: Cli, bacula: Bacula) -> None:
    conf = env.root / "bacula"
    shutil.copytree(bacula.conf_dir, conf)
    text = (conf / "bconsole.conf").read_text().replace(f"DIRport = {bacula.director_port}", f"DIRport = {free_port()}")
    (conf / "bconsole.conf").write_text(text)
    configure(env, conf)
    status, output = cli("mkrescue")
    assert status == 1 and "the Bacula director does not reach client t-fd" in output
    assert "Traceback" not in output
