"""mountonly's plan run for real on a loop disk: a captured GPT disk (ext4, xfs, btrfs subvolumes, swap) is
mounted under a target root with every file on it intact and its partition table and identities unchanged --
nothing was recreated. (LUKS, MD and LVM need device-mapper/MD: tests/unit/recover/test_mountplan.py checks
their commands.)"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from rearbuild.collect.disk.capture import capture
from rearbuild.collect.disk.probe import HostProbe
from rearbuild.recover.mountplan import mount_plan
from rearbuild.recover.plan import build_plan
from rearbuild.recover.planscript import execute, write
from tests.integration.test_recreate import build_source, identities, loops, only_disk, pytestmark, sh, table

__all__ = ["loops", "pytestmark"]  # the loop-device fixture and the root/losetup skip of test_recreate


def test_mountonly_mounts_the_layout_and_keeps_every_file(loops: list[str], tmp_path: Path) -> None:
    src = loops[0]
    build_source(src, tmp_path)
    m = tmp_path / "m"
    for sub in ("", "boot/efi", "srv", "data", "home"):
        (m / sub / "marker").write_text(f"kept {sub}\n")
    layout = only_disk(capture(HostProbe(), extra_disks=[src]), src)
    subprocess.run(["swapoff", f"{src}p6"], check=True)
    sh("umount", "-R", str(m))
    want_table, want_ids = table(src), identities(src)

    target = tmp_path / "target"
    plan = mount_plan(build_plan(layout, target_root=str(target)))
    done = tmp_path / "var/recovery/plan-done"
    ran = execute(write(plan, tmp_path / "var/layout/diskrestore.sh", done), done)
    assert set(ran.ran) == {s.id for s in plan.steps}

    mounted = target / str(m).lstrip("/")
    for sub in ("", "boot/efi", "srv", "data", "home"):
        assert os.path.ismount(mounted / sub), sub
        assert (mounted / sub / "marker").read_text() == f"kept {sub}\n"  # the file systems were not recreated
    sh("umount", "-R", str(mounted))
    assert table(src) == want_table and identities(src) == want_ids
