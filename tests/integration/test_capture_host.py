"""Capture on this machine: the host itself (root file system directly on /dev/vda, which may not be opened),
a loop device with a GPT made here, and savelayout/checklayout through the command line."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rearbuild.collect.disk.capture import capture_all
from rearbuild.collect.disk.probe import HostProbe
from rearbuild.layout.disklayout import read_layout
from rearbuild.layout.model import Disk, Fs, FsType, Part
from rearbuild.layout.partitions import LabelType, PartFlag
from rearbuild.paths import default_share_dir
from rearbuild.recover.recreate import load, make_plan
from rearbuild.run import run
from tests.conftest import RearEnv

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for loop devices and mounts")
MIB = 1024**2


def test_host_capture_finds_the_root_file_system() -> None:
    captured = capture_all(HostProbe())
    roots = [r for r in captured.layout.active if isinstance(r, Fs) and r.mountpoint == "/"]
    assert len(roots) == 1, "the root file system is in the layout"
    disks = {r.device: r for r in captured.layout.active if isinstance(r, Disk)}
    if roots[0].device in disks:
        # A file system directly on a disk (this build host's /dev/vda): no partition table.
        assert disks[roots[0].device].label is LabelType.LOOP


@pytest.fixture
def loop_gpt(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    if os.geteuid() != 0 or shutil.which("losetup") is None:
        pytest.skip("needs root and losetup")
    image = tmp_path / "disk.img"
    with open(image, "wb") as f:
        f.truncate(700 * MIB)
    # xfs needs 300 MiB at least (mkfs.xfs(8) of xfsprogs 6), btrfs about 110 MiB.
    script = (
        "label: gpt\n"
        'size=64MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="ESP"\n'
        'size=320MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="data"\n'
        'type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="pool", attrs="LegacyBIOSBootable"\n'
    )
    run(["sfdisk", "-q", str(image)], input=script)
    loop = run(["losetup", "-f", "--show", str(image)]).out.strip()
    mounted: list[Path] = []
    try:
        run(["partx", "-a", loop])
        run(["mkfs.ext4", "-q", "-L", "efi-ish", f"{loop}p1"])
        run(["mkfs.xfs", "-q", "-L", "data", f"{loop}p2"])
        run(["mkfs.btrfs", "-q", "-L", "pool", f"{loop}p3"])
        for number in (1, 2, 3):
            target = tmp_path / f"m{number}"
            target.mkdir()
            run(["mount", f"{loop}p{number}", str(target)])
            mounted.append(target)
        yield loop, tmp_path
    finally:
        for target in reversed(mounted):
            run(["umount", str(target)], check=False)
        run(["partx", "-d", loop], check=False)
        run(["losetup", "-d", loop], check=False)


@pytest.mark.slow
@needs_root
def test_loop_device_partitions_match_sfdisk(loop_gpt: tuple[str, Path]) -> None:
    loop, tmp_path = loop_gpt
    table = json.loads(run(["sfdisk", "-J", loop]).out)["partitiontable"]
    layout = capture_all(HostProbe(), extra_disks={loop}).layout
    disk = next(r for r in layout.active if isinstance(r, Disk) and r.device == loop)
    assert disk.label is LabelType.GPT and disk.size == 700 * MIB
    assert disk.gpt_guid == table["id"].lower() and disk.first_usable_lba == table["firstlba"]
    parts = [r for r in layout.active if isinstance(r, Part) and r.disk == loop]
    assert [(p.device, p.start, p.size, p.partuuid, p.gpt_type) for p in parts] == [
        (t["node"], t["start"] * 512, t["size"] * 512, t["uuid"].lower(), t["type"]) for t in table["partitions"]
    ]
    assert [p.name for p in parts] == ["ESP", "data", "pool"]
    assert parts[0].flags == {PartFlag.BOOT, PartFlag.ESP}
    assert parts[2].flags == {PartFlag.LEGACY_BOOT}
    fss = {r.mountpoint: r for r in layout.active if isinstance(r, Fs)}
    expected = {"m1": (FsType.EXT4, "efi-ish"), "m2": (FsType.XFS, "data"), "m3": (FsType.BTRFS, "pool")}
    for name, (fstype, label) in expected.items():
        fs = fss[str(tmp_path / name)]
        uuid = run(["blkid", "-c", "/dev/null", "-s", "UUID", "-o", "value", fs.device]).out.strip()
        assert (fs.fstype, fs.label, fs.uuid) == (fstype, label, uuid)
    assert fss[str(tmp_path / "m3")].nodesize == 16384


def _install_recipes(env: RearEnv) -> None:
    for stage in ("layout", "prep/default/020_layout_tools.py"):
        source = default_share_dir() / "recipes" / stage
        target = env.share_dir / "recipes" / stage
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)


Cli = Callable[..., tuple[int, str, str]]


def test_savelayout_writes_disklayout_and_companions(rear_env: RearEnv, rearbuild: Cli) -> None:
    _install_recipes(rear_env)
    status, _, err = rearbuild("savelayout")
    assert status == 0, err
    saved = rear_env.var_dir / "layout" / "disklayout.conf"
    text = saved.read_text()
    assert text.startswith("# Disk layout dated ")
    layout = read_layout(saved)
    assert any(isinstance(r, Fs) and r.mountpoint == "/" for r in layout.active)
    mountpoints = (rear_env.var_dir / "recovery" / "mountpoint_device").read_text().splitlines()
    assert any(line.startswith("/ ") for line in mountpoints)
    assert (rear_env.var_dir / "layout" / "diskdeps.conf").is_file()


def test_checklayout_exits_0_unchanged_and_1_after_a_change(rear_env: RearEnv, rearbuild: Cli) -> None:
    _install_recipes(rear_env)
    status, _, err = rearbuild("checklayout")
    assert status == 1, "no saved layout yet"
    assert "no saved disk layout" in err
    assert rearbuild("savelayout")[0] == 0
    saved = rear_env.var_dir / "layout" / "disklayout.conf"
    before = saved.read_text()
    status, _, err = rearbuild("checklayout")
    assert status == 0, err
    assert saved.read_text() == before, "checklayout leaves the saved layout alone"
    # Only the records count: a different header does not change the layout.
    saved.write_text(before.replace("# Disk layout dated", "# Disk layout dated 1 "))
    assert rearbuild("checklayout")[0] == 0
    lines = before.splitlines()
    disk = next(i for i, line in enumerate(lines) if line.startswith("disk "))
    words = lines[disk].split()
    words[2] = str(int(words[2]) + 512)
    lines[disk] = " ".join(words)
    saved.write_text("\n".join(lines) + "\n")
    status, _, err = rearbuild("checklayout")
    assert status == 1
    assert "changed" in err and "-" + lines[disk] in err


@pytest.fixture
def loop_mounted(rear_env: RearEnv) -> Iterator[tuple[str, Path]]:
    """An ext4 image file mounted through a loop device (no partition table), as `mount -o loop` makes it."""
    if os.geteuid() != 0 or shutil.which("losetup") is None:
        pytest.skip("needs root and losetup")
    image = rear_env.root / "image.ext4"
    with open(image, "wb") as f:
        f.truncate(16 * MIB)
    run(["mkfs.ext4", "-q", "-L", "looped", str(image)])
    loop = run(["losetup", "-f", "--show", str(image)]).out.strip()
    target = rear_env.root / "looped"
    target.mkdir()
    try:
        run(["mount", loop, str(target)])
        yield loop, target
    finally:
        run(["umount", str(target)], check=False)
        run(["losetup", "-d", loop], check=False)


@pytest.mark.slow
def test_a_loop_mounted_file_system_is_excluded_with_a_notice_and_recovery_accepts_the_layout(
    rear_env: RearEnv, rearbuild: Cli, loop_mounted: tuple[str, Path]
) -> None:
    loop, target = loop_mounted
    _install_recipes(rear_env)
    # The mount is below /tmp, which AUTOEXCLUDE_PATH would exclude anyway: leave only /media there.
    rear_env.write("etc/local.conf", "AUTOEXCLUDE_PATH=( /media )\n")
    status, out, err = rearbuild("savelayout")
    assert status == 0, err
    assert f"fs:{target} is on a loop, nbd, ram or zram device" in out + err
    saved = rear_env.var_dir / "layout" / "disklayout.conf"
    text = saved.read_text()
    assert f"#fs {loop} {target} ext4 " in text, "kept as an excluded record, as ReaR comments exclusions out"
    assert f"\nfs {loop} " not in text
    # The layout rearbuild saved is one its own recovery takes (recover --demo loads it this way).
    source = load(rear_env.config_dir, saved)
    assert not any(isinstance(r, Fs) and r.device == loop for r in source.layout.active)
    plan = make_plan(source.layout, rear_env.root / "target")
    assert loop not in plan.destroyed
