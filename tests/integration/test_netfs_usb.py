"""BACKUP_URL=usb:// on a loop device with an ext4 file system labelled REAR-000: the backup lands under
rear/$NETFS_PREFIX/ on it, the restore reads it back, and the disk is unmounted after every run -- also when the
backup fails because the disk is full."""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rearbuild.cli import main
from rearbuild.paths import default_share_dir
from rearbuild.run import run
from tests.conftest import RearEnv

MIB = 1 << 20

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("losetup") is None, reason="needs root and losetup"),
]


@pytest.fixture
def usb_disk(tmp_path: Path) -> Iterator[str]:
    image = tmp_path / "usb.img"
    with open(image, "wb") as f:
        f.truncate(32 * MIB)
    run(["mkfs.ext4", "-q", "-L", "REAR-000", str(image)])
    loop = run(["losetup", "-f", "--show", str(image)]).out.strip()
    try:
        yield loop
    finally:
        run(["umount", loop], check=False)
        run(["losetup", "-d", loop], check=False)


def mounted(device: str) -> bool:
    return any(line.split()[0] == device for line in Path("/proc/mounts").read_text().splitlines())


@pytest.fixture
def cli(rear_env: RearEnv, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str]]:
    env = dataclasses.replace(rear_env, share_dir=default_share_dir())

    def call(*args: str) -> tuple[int, str]:
        status = main(env.argv(*args))
        out, err = capsys.readouterr()
        return status, out + err

    return call


def configure(env: RearEnv, loop: str, tree: Path) -> None:
    env.write(
        "etc/local.conf",
        f"BACKUP=NETFS\nBACKUP_URL=usb://{loop}\nBACKUP_ONLY_INCLUDE=y\nBACKUP_PROG_INCLUDE=( '{tree}' )\n"
        "BACKUP_PROG_EXCLUDE=()\nNETFS_PREFIX=testhost\nBACKUP_PROG_COMPRESS=none\n",
    )


def test_usb_backup_and_restore(rear_env: RearEnv, cli: Callable[..., tuple[int, str]], usb_disk: str) -> None:
    tree = rear_env.root / "tree"
    tree.mkdir()
    (tree / "file").write_bytes(os.urandom(MIB))
    os.chmod(tree / "file", 0o600)
    configure(rear_env, usb_disk, tree)
    status, output = cli("mkbackuponly")
    assert status == 0, output
    assert not mounted(usb_disk), "the USB disk is unmounted after the backup"
    check = rear_env.root / "check"
    check.mkdir()
    run(["mount", "-o", "ro", usb_disk, str(check)])
    try:
        assert sorted(p.name for p in (check / "rear/testhost").iterdir()) == [
            "backup-include.txt",
            "backup.tar",
            "backup.tar.sha256",
            "directories_permissions_owner_group",
        ]
    finally:
        run(["umount", str(check)])
    demo = rear_env.root / "restored"
    status, output = cli("restoreonly", "--demo", str(demo))
    assert status == 0, output
    restored = demo / str(tree).lstrip("/") / "file"
    assert restored.read_bytes() == (tree / "file").read_bytes() and (restored.stat().st_mode & 0o777) == 0o600
    assert not mounted(usb_disk), "the USB disk is unmounted after the restore"


def test_full_usb_disk_fails_clearly_and_is_unmounted(
    rear_env: RearEnv, cli: Callable[..., tuple[int, str]], usb_disk: str
) -> None:
    tree = rear_env.root / "tree"
    tree.mkdir()
    (tree / "big").write_bytes(os.urandom(48 * MIB))  # random data does not compress: more than the 32 MiB disk
    configure(rear_env, usb_disk, tree)
    status, output = cli("mkbackuponly")
    assert status == 1 and "No space left on device" in output, output
    assert not mounted(usb_disk), "the USB disk is unmounted after a failed backup"
    assert not any(rear_env.tmpdir.glob("rear.*")), "the build area is gone"
