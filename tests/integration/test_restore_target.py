"""A restore writes only below its target (issue 9 item 4): a --demo directory (or /mnt/local) that already holds
symbolic links leading out of it is refused before anything is written, and a crafted archive (../, absolute
names, a symlink then a file through it) writes nothing outside -- GNU tar's own protections, kept.

The hostile links point to a sibling directory "elsewhere" made here, so the tests see exactly what was written
outside the target."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import RearEnv
from tests.integration.conftest import Cli

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="restores keep owners: root only"),
]

FIXTURES = Path(__file__).parent.parent / "fixtures" / "layout"


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """Directories made here are 0755 whatever the caller's umask: group-writable ones are refused in a demo."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)




def backed_up(env: RearEnv, cli: Cli) -> Path:
    """A real backup (mkbackuponly) of a small tree below env.root; returns the tree."""
    tree = env.root / "tree"
    for name in ("var/log/app.log", "etc/app.conf", "home/user/notes"):
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(f"{name}\n")
    lines = [
        "BACKUP=NETFS",
        f"BACKUP_URL=file://{env.root}/backup",
        "BACKUP_ONLY_INCLUDE=y",
        f"BACKUP_PROG_INCLUDE=( '{tree}' )",
        "BACKUP_PROG_EXCLUDE=()",  # the default excludes /tmp/*, where the tree lives
        "NETFS_PREFIX=testhost",
    ]
    env.write("etc/local.conf", "\n".join(lines) + "\n")
    status, output = cli("mkbackuponly")
    assert status == 0, output
    return tree


def hostile_target(env: RearEnv, tree: Path) -> tuple[Path, Path]:
    """A demo directory whose top-level directory of the restored tree is a link to "elsewhere", and whose
    var/log (where the recovery log goes) is one too."""
    elsewhere = env.root / "elsewhere"
    elsewhere.mkdir()
    demo = env.root / "demo"
    first = Path(str(tree).lstrip("/")).parts[0]  # e.g. "tmp": the restore writes below it
    demo.mkdir()
    (demo / first).symlink_to(elsewhere)
    (demo / "var").mkdir()
    (demo / "var/log").symlink_to(elsewhere)
    return demo, elsewhere


def everything_below(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


@pytest.mark.parametrize("workflow", ["restoreonly", "recover"])
def test_links_out_of_the_demo_directory_are_refused(env: RearEnv, cli: Cli, workflow: str) -> None:
    tree = backed_up(env, cli)
    if workflow == "recover":
        # A recorded layout, so that the plan does not depend on what this machine has mounted right now.
        shutil.copyfile(FIXTURES / "gpt_lvm.conf", env.var_dir / "layout/disklayout.conf")
    demo, elsewhere = hostile_target(env, tree)
    status, output = cli(workflow, "--demo", str(demo))
    assert everything_below(elsewhere) == []
    assert status == 1
    assert f"{demo} holds symbolic links leading out of it" in output
    assert str(elsewhere) in output and "nothing was written" in output
    assert "Traceback" not in output


def test_a_demo_directory_others_can_write_is_refused(env: RearEnv, cli: Cli) -> None:
    backed_up(env, cli)
    demo = env.root / "shared"
    demo.mkdir()
    os.chmod(demo, 0o1777)  # another user could plant a link while root restores
    status, output = cli("restoreonly", "--demo", str(demo))
    assert status == 1 and f"{demo} can be written by other users" in output
    assert everything_below(demo) == []


def test_links_inside_the_target_are_kept_and_restore_goes_through(env: RearEnv, cli: Cli) -> None:
    """A link that stays below the demo directory is harmless; a hard link to a file outside it, where the
    archive has a file, is replaced by tar (its default unlinks before it extracts), not written through."""
    tree = backed_up(env, cli)
    demo, elsewhere = env.root / "demo", env.root / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "victim").write_text("keep\n")
    (demo / "inside").mkdir(parents=True)
    (demo / "shortcut").symlink_to("inside")
    restored = demo / str(tree).lstrip("/")
    (restored / "etc").mkdir(parents=True)
    os.link(elsewhere / "victim", restored / "etc/app.conf")
    status, output = cli("restoreonly", "--demo", str(demo))
    assert status == 0, output
    assert (restored / "var/log/app.log").read_text() == "var/log/app.log\n"
    assert (restored / "etc/app.conf").read_text() == "etc/app.conf\n"
    assert (elsewhere / "victim").read_text() == "keep\n"
    assert os.readlink(demo / "shortcut") == "inside"


def _member(archive: tarfile.TarFile, name: str, *, data: bytes = b"", link: str | None = None) -> None:
    info = tarfile.TarInfo(name)
    if link is not None:
        info.type, info.linkname = tarfile.SYMTYPE, link
    else:
        info.size = len(data)
    archive.addfile(info, io.BytesIO(data) if link is None else None)


def crafted_backup(env: RearEnv, members: Callable[[tarfile.TarFile], None], record: str = "") -> None:
    """A backup archive written by hand (with its .sha256 and directory record) where NETFS looks for it."""
    backup = env.root / "backup/testhost"
    backup.mkdir(parents=True)
    with tarfile.open(backup / "backup.tar.gz", "w:gz", format=tarfile.PAX_FORMAT) as archive:
        members(archive)
    digest = hashlib.sha256((backup / "backup.tar.gz").read_bytes()).hexdigest()
    (backup / "backup.tar.gz.sha256").write_text(f"{digest}  backup.tar.gz\n")
    (backup / "directories_permissions_owner_group").write_text(record)
    env.write("etc/local.conf", f"BACKUP=NETFS\nBACKUP_URL=file://{env.root}/backup\nNETFS_PREFIX=testhost\n")


def test_a_crafted_archive_writes_nothing_outside(env: RearEnv, cli: Cli) -> None:
    """../evil, /abs, and a link to "elsewhere" followed by a file through it: GNU tar refuses each (it makes
    links at the end, and strips .. and leading slashes), and the restore stops with tar's message."""
    elsewhere = env.root / "elsewhere"
    elsewhere.mkdir()

    def members(archive: tarfile.TarFile) -> None:
        _member(archive, "etc/ok", data=b"fine\n")
        _member(archive, "../elsewhere/evil", data=b"evil\n")
        _member(archive, f"{elsewhere}/abs", data=b"abs\n")
        _member(archive, "escape", link=str(elsewhere))
        _member(archive, "escape/through", data=b"through\n")

    crafted_backup(env, members)
    demo = env.root / "demo"
    status, output = cli("restoreonly", "--demo", str(demo))
    assert everything_below(elsewhere) == []
    assert status == 1 and "escape/through: Cannot open: Not a directory" in output
    assert (demo / "etc/ok").read_text() == "fine\n"


def test_links_the_archive_brings_lead_into_the_target_afterwards(env: RearEnv, cli: Cli) -> None:
    """The restored system's own absolute links (var/log -> /x, run -> /y) mean /x and /y of the recovered system:
    what rearbuild writes after the restore (missing directories, the recovery log) goes there, below the target."""
    elsewhere = env.root / "elsewhere"
    elsewhere.mkdir()

    def members(archive: tarfile.TarFile) -> None:
        _member(archive, "etc/ok", data=b"fine\n")
        _member(archive, "var/log", link=str(elsewhere))
        _member(archive, "run", link=str(elsewhere))

    crafted_backup(env, members, record="/run/lock 1777 0 0\n/var/log/journal 2755 0 0\n/var/run -> /run\n")
    demo = env.root / "demo"
    status, output = cli("restoreonly", "--demo", str(demo))
    assert status == 0, output
    assert everything_below(elsewhere) == []
    inside = demo / str(elsewhere).lstrip("/")  # where /elsewhere of the recovered system is
    assert {"lock", "journal", "rear"} <= set(os.listdir(inside))
    assert os.readlink(demo / "var/run") == "/run"
    assert [p.name for p in (inside / "rear").iterdir()] == [f"demo-recover-{os.uname().nodename}.log"]
    assert f"recovery log: {inside}/rear/demo-recover-" in output


def test_the_chroot_binds_follow_the_restored_systems_links_inside_it(tmp_path: Path) -> None:
    """dev -> <elsewhere> in the restored system: /dev is bound at <root>/<elsewhere>, where its chroot finds
    it, and nothing is mounted on (or made in) the real <elsewhere>."""
    from rearbuild.recover.chroot import chroot_mounts

    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    (root / "dev").symlink_to(elsewhere)
    inside = root / str(elsewhere).lstrip("/")
    with chroot_mounts(root):
        assert not os.path.ismount(elsewhere)
        assert os.path.ismount(inside) and (inside / "null").exists()
        assert os.path.ismount(root / "proc")
    assert everything_below(elsewhere) == []
    assert not os.path.ismount(inside)
