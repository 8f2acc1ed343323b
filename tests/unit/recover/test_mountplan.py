"""mountonly's plan (rearbuild.recover.mountplan) for the recorded layouts: it opens, assembles, activates and
mounts exactly what recover would mount, and nothing in it creates or destroys."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from rearbuild.collect.disk.capture import capture
from rearbuild.collect.disk.probe import RecordedProbe
from rearbuild.recover.mountplan import mount_plan
from rearbuild.recover.plan import Plan, StepKind, build_plan
from rearbuild.recover.planscript import render

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "capture"
SCENARIOS = ["gpt_lvm", "raid1_lvm", "luks_lvm", "btrfs_subvol", "msdos_logical", "wholedisk"]
# Programs and subcommands that write a device: none may appear in a mount-only plan.
CREATING = ("sfdisk", "wipefs", "dd", "mkfs", "mkswap", "tune2fs", "luksFormat", "pvcreate", "vgcreate", "lvcreate",
            "--create", "subvolume")  # fmt: skip


def plans(name: str) -> tuple[Plan, Plan]:
    full = build_plan(capture(RecordedProbe(FIXTURES / name)), keyfile_exists=lambda _: False)
    return full, mount_plan(full)


@pytest.mark.parametrize("name", SCENARIOS)
def test_it_mounts_what_recover_mounts_and_creates_nothing(name: str) -> None:
    full, mounts = plans(name)
    assert mounts.mounts == full.mounts and mounts.mounts
    assert mounts.destroyed == ()
    words = [word for step in mounts.steps for command in step.commands for word in command.argv]
    assert [w for w in words if any(w.startswith(c) for c in CREATING)] == []
    assert all(step.id.startswith("mountonly-") for step in mounts.steps)  # recover's done-markers do not count
    assert subprocess.run(["bash", "-n"], input=render(mounts, Path("/done")), text=True).returncode == 0


def test_raid_is_assembled_and_lvm_activated() -> None:
    full, mounts = plans("raid1_lvm")
    raid = next(s for s in mounts.steps if s.kind is StepKind.RAID)
    created = next(s for s in full.steps if s.kind is StepKind.RAID)
    assert raid.commands[0].argv == ("mdadm", "--assemble", "--run", created.commands[0].argv[2], *created.destroys)
    vg = next(s for s in mounts.steps if s.kind is StepKind.VG)
    assert vg.commands[0].argv[:2] == ("lvm", "vgchange") and vg.commands[0].argv[-3:] == ("--activate", "y", "vgdata")
    kinds = [s.kind for s in mounts.steps]
    assert kinds.index(StepKind.RAID) < kinds.index(StepKind.VG) < kinds.index(StepKind.MOUNT)


def test_luks_is_opened_with_the_passphrase_asked_not_formatted() -> None:
    full, mounts = plans("luks_lvm")
    crypt = next(s for s in mounts.steps if s.kind is StepKind.CRYPT)
    assert [c.argv[:2] for c in crypt.commands if c.helper is None] == [("cryptsetup", "open")]
    assert crypt.passphrase_for == next(s for s in full.steps if s.kind is StepKind.CRYPT).passphrase_for
    assert crypt.description.startswith("Open /dev/")
    # an existing mapping's passphrase is asked once (cryptsetup checks it), not twice as for a new one
    assert f"rear_read_passphrase {crypt.passphrase_for} once\n" in render(mounts, Path("/done"))
    assert f"rear_read_passphrase {crypt.passphrase_for}\n" in render(full, Path("/done"))
