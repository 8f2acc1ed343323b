"""BACKUP=NETFS through the command line with the shipped recipes and the real tar on this host: a tree with
owners, setuid, xattrs, an ACL, hard links, a symlink, a sparse file and a FIFO is backed up with mkbackuponly
and restored with restoreonly --demo (and recover --demo once the layout recipes exist), and compared item by
item. Damaged, missing and undecryptable archives stop before anything is written."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from rearbuild.run import run
from tests.conftest import RearEnv
from tests.integration.conftest import Cli

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="owners, setuid and ACLs of other users need root")

SPARSE_SIZE = 64 << 20
FIXTURES = Path(__file__).parent.parent / "fixtures" / "layout"
KEY = "correct horse battery staple"


def make_tree(root: Path) -> None:
    (root / "etc").mkdir(parents=True)
    (root / "etc/config").write_text("key=value\n")
    os.chmod(root / "etc/config", 0o640)
    (root / "home/user").mkdir(parents=True)
    os.chown(root / "home/user", 1234, 5678)
    os.chmod(root / "home/user", 0o2770)
    (root / "home/user/notes änd spaces.txt").write_text("ünïcode content\n" * 100)
    os.chown(root / "home/user/notes änd spaces.txt", 1234, 5678)
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/tool").write_bytes(b"\x7fELF" + os.urandom(5000))
    os.chmod(root / "usr/bin/tool", 0o4755)  # setuid
    run(["setfattr", "-n", "user.origin", "-v", "rearbuild-test", str(root / "etc/config")])
    run(["setfattr", "-n", "user.binary", "-v", "0x00ff10", str(root / "usr/bin/tool")])
    (root / "shared").mkdir()
    run(["setfacl", "-m", "u:1234:rwx,g:5678:r-x,d:u:1234:rwx", str(root / "shared")])
    (root / "shared/data").write_bytes(os.urandom(200_000))
    os.link(root / "shared/data", root / "etc/data-hardlink")
    (root / "etc/link").symlink_to("../shared/data")
    (root / "etc/dangling").symlink_to("/nonexistent/target")
    with open(root / "sparse.img", "wb") as f:
        f.write(b"head")
        f.seek(SPARSE_SIZE - 4)
        f.write(b"tail")
    os.mkfifo(root / "fifo")
    (root / "empty-dir").mkdir()
    os.chmod(root / "empty-dir", 0o1777)


def snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    """Everything a restore must keep, per path relative to root; hard links as groups of names."""
    found: dict[str, tuple[object, ...]] = {}
    inodes: dict[int, list[str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            st = os.lstat(path)
            xattrs: tuple[tuple[str, bytes], ...] = ()
            if not stat.S_ISLNK(st.st_mode):
                # system.posix_acl_access/default are the ACLs; user.* the user attributes.
                xattrs = tuple(sorted((a, os.getxattr(path, a)) for a in os.listxattr(path)))
            content: object = None
            if stat.S_ISREG(st.st_mode):
                content = path.read_bytes()
                inodes.setdefault(st.st_ino, []).append(rel)
            elif stat.S_ISLNK(st.st_mode):
                content = os.readlink(path)
            mtime = None if stat.S_ISDIR(st.st_mode) else int(st.st_mtime)
            found[rel] = (st.st_mode, st.st_uid, st.st_gid, st.st_size, mtime, content, xattrs)
    for names in inodes.values():
        if len(names) > 1:
            found["hardlinks:" + ",".join(sorted(names))] = ()
    return found


def configure(env: RearEnv, tree: Path, *extra: str) -> None:
    lines = [
        "BACKUP=NETFS",
        f"BACKUP_URL=file://{env.root}/backup",
        "BACKUP_ONLY_INCLUDE=y",
        f"BACKUP_PROG_INCLUDE=( '{tree}' )",
        # The default excludes '/tmp/*', and the test's tree lives below /tmp.
        "BACKUP_PROG_EXCLUDE=()",
        "NETFS_PREFIX=testhost",
        *extra,
    ]
    env.write("etc/local.conf", "\n".join(lines) + "\n")


def archive_of(env: RearEnv, name: str = "backup.tar.gz") -> Path:
    return env.root / "backup/testhost" / name


def restored_tree(demo: Path, tree: Path) -> Path:
    return demo / str(tree).lstrip("/")


def _round_trip(env: RearEnv, cli: Cli, *extra: str, archive: str = "backup.tar.gz") -> tuple[Path, Path, str]:
    tree = env.root / "tree"
    make_tree(tree)
    configure(env, tree, *extra)
    status, output = cli("mkbackuponly")
    assert status == 0, output
    assert archive_of(env, archive).is_file() and archive_of(env, archive + ".sha256").is_file()
    demo = env.root / "restored"
    status, output = cli("restoreonly", "--demo", str(demo))
    assert status == 0, output
    return tree, demo, output


@pytest.mark.slow
def test_backup_and_demo_restore_keep_everything(env: RearEnv, cli: Cli) -> None:
    tree, demo, _ = _round_trip(env, cli)
    restored = restored_tree(demo, tree)
    before, after = snapshot(tree), snapshot(restored)
    assert after == before
    # The sparse file came back with its holes, not as 64 MiB of zeros.
    assert os.stat(restored / "sparse.img").st_blocks * 512 < 1 << 20
    assert os.stat(restored / "usr/bin/tool").st_mode & stat.S_ISUID
    acl = run(["getfacl", "-cp", str(restored / "shared")]).out
    assert "user:1234:rwx" in acl and "default:user:1234:rwx" in acl
    # The archive is a plain gzip'ed tar anyone can check by hand.
    run(["sha256sum", "-c", "backup.tar.gz.sha256"], cwd=archive_of(env).parent)
    listing = run(["tar", "-tzf", str(archive_of(env))]).out
    assert f"{str(tree).lstrip('/')}/etc/config" in listing


@pytest.mark.slow
@pytest.mark.parametrize(
    ("extra", "archive", "magic"),
    [
        (("BACKUP_PROG_COMPRESS=zstd",), "backup.tar.zst", b"\x28\xb5\x2f\xfd"),
        (("BACKUP_PROG_COMPRESS=xz",), "backup.tar.xz", b"\xfd7zXZ"),
        (("BACKUP_PROG_COMPRESS_OPTIONS=()", "BACKUP_PROG_COMPRESS_SUFFIX="), "backup.tar", None),
    ],
)
def test_other_compressions_round_trip(
    env: RearEnv, cli: Cli, extra: tuple[str, ...], archive: str, magic: bytes | None
) -> None:
    tree, demo, _ = _round_trip(env, cli, *extra, archive=archive)
    if magic is not None:
        assert archive_of(env, archive).read_bytes()[: len(magic)] == magic
    assert snapshot(restored_tree(demo, tree)) == snapshot(tree)


@pytest.mark.slow
def test_encrypted_round_trip_keeps_the_key_out_of_logs(env: RearEnv, cli: Cli) -> None:
    tree, demo, output = _round_trip(env, cli, "BACKUP_PROG_CRYPT_ENABLED=y", f"BACKUP_PROG_CRYPT_KEY='{KEY}'")
    assert archive_of(env).read_bytes()[:8] == b"Salted__", "openssl enc output"
    assert snapshot(restored_tree(demo, tree)) == snapshot(tree)
    for log in env.log_dir.iterdir():
        assert KEY not in log.read_text(errors="replace"), log
    assert KEY not in output
    # Without the key a non-interactive restore stops before writing anything.
    configure(env, tree, "BACKUP_PROG_CRYPT_ENABLED=y")
    status, output = cli("-n", "restoreonly", "--demo", str(env.root / "nokey"))
    assert status == 1 and "no key" in output
    assert not any((env.root / "nokey").glob("*"))


def test_wrong_key_is_found_before_anything_is_written(env: RearEnv, cli: Cli) -> None:
    tree = env.root / "tree"
    make_tree(tree)
    configure(env, tree, "BACKUP_PROG_CRYPT_ENABLED=y", f"BACKUP_PROG_CRYPT_KEY='{KEY}'")
    assert cli("mkbackuponly")[0] == 0
    configure(env, tree, "BACKUP_PROG_CRYPT_ENABLED=y", "BACKUP_PROG_CRYPT_KEY=wrong")
    demo = env.root / "restored"
    status, output = cli("restoreonly", "--demo", str(demo))
    assert status == 1 and "key (BACKUP_PROG_CRYPT_KEY) is wrong" in output
    assert not any(demo.glob("*"))


def test_damaged_archive_aborts_before_writing(env: RearEnv, cli: Cli) -> None:
    tree = env.root / "tree"
    make_tree(tree)
    configure(env, tree)
    assert cli("mkbackuponly")[0] == 0
    archive = archive_of(env)
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0x40
    archive.write_bytes(bytes(data))
    demo = env.root / "restored"
    status, output = cli("restoreonly", "--demo", str(demo))
    assert status == 1 and "is damaged" in output and "nothing was written" in output
    assert not any(demo.glob("*"))


def test_missing_archive_aborts_with_its_path(env: RearEnv, cli: Cli) -> None:
    tree = env.root / "tree"
    make_tree(tree)
    configure(env, tree)
    demo = env.root / "restored"
    status, output = cli("restoreonly", "--demo", str(demo))
    assert status == 1 and f"no backup archive {archive_of(env)}" in output
    assert not any(demo.glob("*"))


def test_keep_old_backup_copy(env: RearEnv, cli: Cli) -> None:
    tree = env.root / "tree"
    make_tree(tree)
    configure(env, tree, "NETFS_KEEP_OLD_BACKUP_COPY=y")
    assert cli("mkbackuponly")[0] == 0
    first = archive_of(env).read_bytes()
    (tree / "new-file").write_text("added later\n")
    assert cli("mkbackuponly")[0] == 0
    old = env.root / "backup/testhost.old/backup.tar.gz"
    assert old.read_bytes() == first and archive_of(env).read_bytes() != first
    assert "new-file" in run(["tar", "-tzf", str(archive_of(env))]).out


def test_unsupported_configurations_are_refused_clearly(env: RearEnv, cli: Cli) -> None:
    tree = env.root / "tree"
    tree.mkdir()
    configure(env, tree)
    env.write("etc/local.conf", env.root.joinpath("etc/local.conf").read_text() + "BACKUP_URL=nfs://srv/export\n")
    status, output = cli("mkbackuponly")
    assert status == 1 and "BACKUP_URL='nfs://srv/export'" in output and "not supported yet" in output
    configure(env, tree, "BACKUP_URL=iso:///backup")
    status, output = cli("mkbackuponly")
    assert status == 1 and "only mkbackup with OUTPUT=ISO" in output
    assert not (env.root / "backup").exists()


def test_requestrestore_needs_an_operator(env: RearEnv, cli: Cli) -> None:
    env.write("etc/local.conf", "BACKUP=REQUESTRESTORE\n")
    status, output = cli("-n", "restoreonly", "--demo", str(env.root / "restored"))
    assert status == 1 and "needs an operator" in output


@pytest.mark.slow
def test_recover_demo_restores_the_backup(env: RearEnv, cli: Cli) -> None:
    tree = env.root / "tree"
    make_tree(tree)
    configure(env, tree)
    assert cli("mkbackuponly")[0] == 0
    # The host's layout holds whatever is mounted right now (other tests' loop devices come and go): recover
    # from a recorded layout instead, so that the plan does not depend on this machine's moment.
    shutil.copyfile(FIXTURES / "gpt_lvm.conf", env.var_dir / "layout/disklayout.conf")
    demo = env.root / "recovered"
    status, output = cli("recover", "--demo", str(demo))
    assert status == 0, output
    assert "no disk was touched" in output
    assert snapshot(restored_tree(demo, tree)) == snapshot(tree)
