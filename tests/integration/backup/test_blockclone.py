"""BACKUP=BLOCKCLONE through the command line with the real partclone, dd and sfdisk on a loop device: the
partition is imaged with its disk's partition table and boot code; after the table, the boot code and the file
system are destroyed, restoreonly recreates the partition and writes the image back, and the file system comes
back clean with the same files. dd restores into a file with --demo; a mounted source is refused."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from rearbuild.run import run
from tests.conftest import RearEnv
from tests.integration.conftest import Cli

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.geteuid() != 0, reason="loop devices need root")]

BOOT_CODE = bytes(range(256)) + bytes(range(190))  # 446 bytes: the MBR's boot code area


def sha_of(path: Path | str, length: int | None = None) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read() if length is None else f.read(length)).hexdigest()


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[str]:
    """A 48 MiB loop disk, MBR: partition 1 (24 MiB, ext4 with files), partition 2; boot code in the MBR."""
    image = tmp_path / "disk.img"
    with open(image, "wb") as f:
        f.truncate(48 << 20)
    run(["sfdisk", "-q", str(image)], input="label: dos\nstart=2048, size=49152, type=83\ntype=83\n")
    with open(image, "r+b") as f:
        f.write(BOOT_CODE)
    device = run(["losetup", "-f", "--show", str(image)]).out.strip()
    try:
        run(["partx", "-a", device])
        run(["mkfs.ext4", "-q", "-L", "DATA", f"{device}p1"])
        mnt = tmp_path / "mnt"
        mnt.mkdir()
        run(["mount", f"{device}p1", str(mnt)])
        (mnt / "etc").mkdir()
        (mnt / "etc/config").write_text("key=value\n" * 1000)
        os.chown(mnt / "etc/config", 1234, 5678)
        run(["setfattr", "-n", "user.origin", "-v", "blockclone", str(mnt / "etc/config")])
        run(["umount", str(mnt)])
        yield device
    finally:
        subprocess.run(["umount", str(tmp_path / "mnt")], capture_output=True)
        subprocess.run(["partx", "-d", device], capture_output=True)
        subprocess.run(["losetup", "-d", device], capture_output=True)


def configure(env: RearEnv, *extra: str) -> None:
    lines = [
        "BACKUP=BLOCKCLONE",
        f"BACKUP_URL=file://{env.root}/backup",
        "NETFS_PREFIX=host1",
        "BACKUP_PROG_ARCHIVE=part1",
        "BACKUP_PROG_SUFFIX=.img",
        "BACKUP_PROG_COMPRESS_SUFFIX=",
        *extra,
    ]
    env.write("etc/local.conf", "\n".join(lines) + "\n")


def test_partclone_image_table_and_boot_code_come_back(
    env: RearEnv, cli: Cli, disk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    part = f"{disk}p1"
    configure(env, "BLOCKCLONE_PROG=partclone", f"BLOCKCLONE_SOURCE_DEV={part}", f"BLOCKCLONE_SAVE_MBR_DEV={disk}")
    mnt = env.root / "m"
    mnt.mkdir()
    run(["mount", part, str(mnt)])
    status, output = cli("mkbackuponly")
    run(["umount", str(mnt)])
    assert status == 1 and f"{part} is mounted" in output and "BLOCKCLONE_ALLOW_MOUNTED" in output
    status, output = cli("mkbackuponly")
    assert status == 0, output
    saved = env.root / "backup/host1"
    assert (saved / "boot_strap.img").read_bytes() == BOOT_CODE
    assert "start=        2048, size=       49152" in (saved / "partition_layout.conf").read_text()
    # partclone keeps the used blocks only: far less than the 24 MiB partition
    assert (saved / "part1.img").stat().st_size < 12 << 20
    before = sha_of(part, 24 << 20)
    # destroy the partition table, the boot code and the file system
    run(["wipefs", "-a", "-q", part])
    with open(disk, "r+b") as f:
        f.write(bytes(1 << 20))
    run(["partx", "-d", disk], check=False)
    run(["udevadm", "settle", "--timeout=30"], check=False)
    assert not Path(part).exists()
    # restoreonly writes devices only in a rescue system: this test stands in for one
    (env.root / "rear-release").write_text("rescue\n")
    monkeypatch.setenv("REARBUILD_RESCUE_MARKER", str(env.root / "rear-release"))
    status, output = cli("-n", "restoreonly")
    assert status == 0, output
    assert Path(part).is_block_device()
    assert sha_of(disk, len(BOOT_CODE)) == hashlib.sha256(BOOT_CODE).hexdigest()
    run(["e2fsck", "-fn", part])
    assert sha_of(part, 24 << 20) == before  # partclone restores the used blocks; the rest was zero before too
    run(["mount", "-o", "ro", part, str(mnt)])
    try:
        config = mnt / "etc/config"
        assert config.read_text() == "key=value\n" * 1000
        assert (os.stat(config).st_uid, os.stat(config).st_gid) == (1234, 5678)
        assert os.getxattr(config, "user.origin") == b"blockclone"
    finally:
        run(["umount", str(mnt)])


def test_dd_image_restores_into_a_file_with_demo(env: RearEnv, cli: Cli, disk: str) -> None:
    part = f"{disk}p1"
    configure(env, "BLOCKCLONE_PROG=dd", f"BLOCKCLONE_SOURCE_DEV={part}")
    assert cli("mkbackuponly")[0] == 0
    image = env.root / "backup/host1/part1.img"
    assert sha_of(image) == sha_of(part)
    demo = env.root / "demo"
    status, output = cli("restoreonly", "--demo", str(demo))
    assert status == 0, output
    assert sha_of(demo / Path(part).name) == sha_of(part)
    # a damaged image is found before anything is written
    data = bytearray(image.read_bytes())
    data[len(data) // 2] ^= 1
    image.write_bytes(bytes(data))
    status, output = cli("restoreonly", "--demo", str(env.root / "demo2"))
    assert status == 1 and "damaged" in output
    assert not (env.root / "demo2").exists() or not any((env.root / "demo2").iterdir())
