"""The disk plan run for real on loop devices: a GPT disk with a BIOS boot partition, an ESP-typed partition
(ext4: no vfat on this host), ext4, xfs, btrfs with subvolumes and swap is captured with the real capture,
mapped onto a blank disk of the same size and recreated; sfdisk and blkid must see the same identities.
A re-run skips every step; a too-small disk stops `rearbuild recover` in verify and keeps its bytes.

Needs root and loop devices (no device-mapper/MD here: those run in tests/vm/test_recreate_vm.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rearbuild.collect.disk.capture import capture
from rearbuild.collect.disk.probe import HostProbe
from rearbuild.layout.deps import build_graph, component_of
from rearbuild.layout.disklayout import format_layout
from rearbuild.layout.model import BtrfsSubvol, Entry, Layout
from rearbuild.layout.partitions import GptType
from rearbuild.recover.disks import Devices, block_devices, check_targets
from rearbuild.recover.mapping import map_disks
from rearbuild.recover.plan import build_plan
from rearbuild.recover.planscript import execute, write

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("losetup") is None, reason="needs root and loop devices"),
]

MiB = 1024 * 1024
DISK = 600 * MiB
ESP = GptType.EFI_SYSTEM.guid
BIOS = GptType.BIOS_BOOT.guid
LINUX = GptType.LINUX_FILESYSTEM.guid
SWAP = GptType.LINUX_SWAP.guid
# Partition: (number, size MiB, type, name). xfs needs 300 MiB at least (mkfs.xfs of xfsprogs 6.x).
PARTITIONS = [
    (1, 1, BIOS, "bios"),
    (2, 32, ESP, "EFI System"),
    (3, 64, LINUX, "root"),
    (4, 300, LINUX, "srv"),
    (5, 150, LINUX, ""),
    (6, 16, SWAP, "swap"),
]


def sh(*argv: str, input: str | None = None) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True, input=input).stdout


def losetup(image: Path) -> str:
    return sh("losetup", "--find", "--show", str(image)).strip()


def detach(loop: str) -> None:
    subprocess.run(["partx", "-d", loop], capture_output=True)
    subprocess.run(["losetup", "-d", loop], capture_output=True)


@pytest.fixture
def loops(tmp_path: Path) -> Iterator[list[str]]:
    made: list[str] = []
    mounts: list[str] = []
    try:
        for name, size in (("src", DISK), ("dst", DISK), ("small", 200 * MiB)):
            image = tmp_path / f"{name}.img"
            with image.open("wb") as f:
                f.truncate(size)
            made.append(losetup(image))
        yield made
    finally:
        for line in reversed(Path("/proc/self/mountinfo").read_text().splitlines()):
            target = line.split()[4]
            if target.startswith(str(tmp_path)):
                mounts.append(target)
        for target in mounts:
            subprocess.run(["umount", "-l", target], capture_output=True)
        for loop in made:
            subprocess.run(["swapoff", f"{loop}p6"], capture_output=True)
            detach(loop)


def build_source(loop: str, root: Path) -> None:
    lines = ["label: gpt", "unit: sectors", "first-lba: 2048", ""]
    start = 2048
    for number, size, ptype, name in PARTITIONS:
        lines.append(f'{loop}p{number} : start={start}, size={size * 2048}, type={ptype}, name="{name}"')
        start += size * 2048
    sh("sfdisk", "--quiet", loop, input="\n".join(lines) + "\n")
    subprocess.run(["partx", "-a", loop], capture_output=True)
    sh("mkfs.ext4", "-q", "-L", "esp", f"{loop}p2")
    sh("mkfs.ext4", "-q", "-L", "root", "-b", "1024", "-m", "2", f"{loop}p3")
    sh("tune2fs", "-c", "25", "-i", "14d", f"{loop}p3")
    sh("mkfs.xfs", "-q", "-L", "srv", f"{loop}p4")
    sh("mkfs.btrfs", "-q", "-L", "data", f"{loop}p5")
    sh("mkswap", "-L", "swap0", f"{loop}p6")
    top = root / "btrfs-top"
    top.mkdir()
    sh("mount", f"{loop}p5", str(top))
    for sub in ("@", "@home", "@/cache"):
        sh("btrfs", "subvolume", "create", str(top / sub))
    sh("btrfs", "subvolume", "set-default", str(top / "@"))
    sh("umount", str(top))
    m = root / "m"
    m.mkdir()
    sh("mount", f"{loop}p3", str(m))
    for sub in ("boot/efi", "srv", "data", "home"):
        (m / sub).mkdir(parents=True)
    sh("mount", f"{loop}p2", str(m / "boot/efi"))
    sh("mount", f"{loop}p4", str(m / "srv"))
    sh("mount", "-o", "subvol=@", f"{loop}p5", str(m / "data"))
    sh("mount", "-o", "subvol=@home", f"{loop}p5", str(m / "home"))
    sh("swapon", f"{loop}p6")


def only_disk(layout: Layout, disk: str) -> Layout:
    """The records of `disk` and of everything on it (the host's own disks are left out)."""
    graph = build_graph(layout)
    keep = {disk} | graph.dependents(disk)
    devices = {c for c in keep if c.startswith("/dev/")}
    items = []
    for entry in layout.entries:
        named = component_of(entry.record)
        mine = named[0] in keep if named is not None else False
        if mine or (isinstance(entry.record, BtrfsSubvol) and entry.record.device in devices):
            items.append(entry)
    return Layout(items=tuple(Entry(e.record, e.excluded) for e in items))


def table(loop: str) -> dict[str, object]:
    data = json.loads(sh("sfdisk", "-J", loop))["partitiontable"]
    parts = [{k: v for k, v in p.items() if k != "node"} for p in data["partitions"]]
    return {"label": data["label"], "id": data["id"], "firstlba": data["firstlba"], "partitions": parts}


def identities(loop: str) -> list[tuple[str, str, str]]:
    found = []
    for number, *_ in PARTITIONS:
        out = sh("blkid", "-p", "-o", "export", f"{loop}p{number}") if number != 1 else ""
        values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        found.append((values.get("TYPE", ""), values.get("UUID", ""), values.get("LABEL", "")))
    return found


def subvolumes(mounted: Path) -> list[tuple[str, str]]:
    """(id, path) of every subvolume, `btrfs subvolume list` lines being `ID n gen g top level t path p`."""
    lines = sh("btrfs", "subvolume", "list", str(mounted)).splitlines()
    return [(line.split()[1], line.split()[-1]) for line in lines]


def sha256(device: str) -> str:
    digest = hashlib.sha256()
    with open(device, "rb") as f:
        while chunk := f.read(4 * MiB):
            digest.update(chunk)
    return digest.hexdigest()


def test_plan_recreates_a_captured_disk_with_every_identity(loops: list[str], tmp_path: Path) -> None:
    src, dst, _small = loops
    build_source(src, tmp_path)
    layout = only_disk(capture(HostProbe(), extra_disks=[src]), src)
    text = format_layout(layout)
    assert f"disk {src} " in text and "btrfsnormalsubvol" in text and "swap " in text
    want_subvolumes = subvolumes(tmp_path / "m" / "data")
    assert [path for _id, path in want_subvolumes] == ["@", "@home", "cache"]
    subprocess.run(["swapoff", f"{src}p6"], check=True)
    sh("umount", "-R", str(tmp_path / "m"))
    want_table, want_ids = table(src), identities(src)
    # The original disk is gone in a real recovery (and mkfs.btrfs refuses a UUID another device has).
    detach(src)

    mapped = map_disks(layout, {src: dst})
    target = tmp_path / "target"
    plan = build_plan(mapped, target_root=str(target))
    assert check_targets(plan, Devices(block_devices()), []) == []
    script = write(plan, tmp_path / "var/layout/diskrestore.sh", tmp_path / "var/recovery/plan-done")
    done = tmp_path / "var/recovery/plan-done"
    first = execute(script, done)
    assert set(first.ran) == {s.id for s in plan.steps}

    # The same partition table: disk GUID, first LBA, PARTUUIDs, starts, sizes, types, names.
    assert table(dst) == want_table
    # The same file system identities (type, UUID, label) on every partition, swap included.
    assert identities(dst) == want_ids
    assert sh("tune2fs", "-l", f"{dst}p3").count("Maximum mount count:      25") == 1
    # Everything mounted under the target root, btrfs subvolumes by name.
    m = target / str(tmp_path / "m").lstrip("/")
    for sub in ("", "boot/efi", "srv", "data", "home"):
        assert os.path.ismount(m / sub), sub
    # The same subvolumes with the same ids (created in id order).
    assert subvolumes(m / "data") == want_subvolumes
    assert sh("btrfs", "subvolume", "get-default", str(m / "data")).split()[-1] == "@"

    # Running the plan again does nothing: every step is skipped.
    again = execute(script, done)
    assert again.ran == () and set(again.skipped) == {s.id for s in plan.steps}
    sh("umount", "-R", str(m))


def test_too_small_disk_stops_recover_in_verify_and_is_not_touched(loops: list[str], tmp_path: Path) -> None:
    src, _dst, small = loops
    build_source(src, tmp_path)
    layout = only_disk(capture(HostProbe(), extra_disks=[src]), src)
    subprocess.run(["swapoff", f"{src}p6"], check=True)
    sh("umount", "-R", str(tmp_path / "m"))
    etc, var = tmp_path / "etc", tmp_path / "var"
    (etc / "mappings").mkdir(parents=True)
    (var / "layout").mkdir(parents=True)
    # Mounted where the original system had them (recovery refuses a layout without a root file system).
    m = str(tmp_path / "m")
    text = format_layout(layout).replace(f" {m} ", " / ").replace(f" {m}/", " /")
    (var / "layout/disklayout.conf").write_text(text)
    (etc / "mappings/disk_mappings").write_text(f"{src} {small}\n")
    # NETFS checks its archive after the disk checks (REQUESTRESTORE would want an operator first).
    (etc / "local.conf").write_text(f"BACKUP=NETFS\nBACKUP_URL=file://{tmp_path}/backup\n")
    marker = tmp_path / "rear-release"
    marker.write_text("rescue\n")
    before = sha256(small)
    env = dict(os.environ, REARBUILD_RESCUE_MARKER=str(marker))
    argv = [sys.executable, "-m", "rearbuild", "-n", "-c", str(etc), "--var-dir", str(var), "--log-dir",
            str(tmp_path / "log"), "--tmpdir", str(tmp_path / "tmp"), "recover"]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, stdin=subprocess.DEVNULL)
    assert result.returncode == 1, result.stderr
    assert f"{small} is too small: it has {200 * MiB} bytes and the layout needs" in result.stderr
    assert not (var / "layout/diskrestore.sh").exists()
    assert sha256(small) == before
