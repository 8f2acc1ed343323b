"""Plans from disklayout.conf files in ReaR 2.7's own format: no type GUIDs (only parted's flags) and a
`raiddisk` record for every MD array. A user who starts from the file their ReaR wrote must get the same
partition types and arrays as from a layout rearbuild saved itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rearbuild.layout.disklayout import parse_layout, read_layout
from rearbuild.layout.partitions import GptType, PartFlag
from rearbuild.recover.plan import Plan, StepKind, build_plan

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "layout"


def plan_of(name: str) -> Plan:
    return build_plan(read_layout(FIXTURES / name), keyfile_exists=lambda _: False)


def sfdisk_types(plan: Plan, step_id: str) -> dict[str, str]:
    text = plan.step(step_id).commands[0].stdin or ""
    return dict(re.findall(r"^(/dev/\S+) : .*?type=([0-9A-Fa-f-]+)", text, re.M))


def test_rear_gpt_flags_become_partition_types() -> None:
    types = sfdisk_types(plan_of("rear27_gpt_bios_grub_lvm.conf"), "partition-vda")
    assert types == {
        # Without "BIOS boot" GRUB cannot embed its core image on a GPT disk that a BIOS boots.
        "/dev/vda1": GptType.BIOS_BOOT.guid,
        "/dev/vda2": GptType.EFI_SYSTEM.guid,
        "/dev/vda3": GptType.LINUX_FILESYSTEM.guid,
        "/dev/vda4": GptType.LINUX_LVM.guid,
    }


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({PartFlag.BOOT}, GptType.EFI_SYSTEM),  # parted(8): on GPT `boot` is an alias of `esp`
        ({PartFlag.ESP}, GptType.EFI_SYSTEM),
        ({PartFlag.RAID}, GptType.LINUX_RAID),
        ({PartFlag.SWAP}, GptType.LINUX_SWAP),
        ({PartFlag.PREP}, GptType.PREP_BOOT),
        ({PartFlag.LEGACY_BOOT}, GptType.LINUX_FILESYSTEM),  # an attribute, not a type
        (set(), GptType.LINUX_FILESYSTEM),
    ],
)
def test_each_flag_names_its_type(flags: set[PartFlag], expected: GptType) -> None:
    assert GptType.of_flags(frozenset(flags)) is expected


def test_a_saved_type_guid_wins_over_the_flags() -> None:
    # rearbuild's own layouts carry gpt_type=: an unusual type (here ChromeOS kernel) stays what it was.
    layout = (FIXTURES / "rear27_gpt_bios_grub_lvm.conf").read_text().replace(
        "bios_grub /dev/vda1", "bios_grub /dev/vda1 no-partuuid gpt_type=FE3A2A5D-4F32-41A7-B725-ACCC3285A309"
    )
    plan = build_plan(parse_layout(layout), keyfile_exists=lambda _: False)
    assert sfdisk_types(plan, "partition-vda")["/dev/vda1"] == "FE3A2A5D-4F32-41A7-B725-ACCC3285A309"


def test_rear_raiddisk_loop_is_the_array_itself() -> None:
    plan = plan_of("rear27_msdos_raid1.conf")
    kinds = [s.kind for s in plan.steps]
    assert kinds.count(StepKind.RAID) == 1
    # The array is created once; no partition table is written on it and it is no target disk of its own.
    assert not any("md127" in s.id for s in plan.steps if s.kind in (StepKind.WIPE, StepKind.PARTITION))
    assert [d.device for d in plan.disks] == ["/dev/vda", "/dev/vdb"]
    types = sfdisk_types(plan, "partition-vda") | sfdisk_types(plan, "partition-vdb")
    assert types == {"/dev/vda1": "fd", "/dev/vdb1": "fd"}
    assert "bootable" in (plan.step("partition-vda").commands[0].stdin or "")
    mkfs = next(s for s in plan.steps if s.kind is StepKind.MKFS)
    assert any("/dev/md127" in c.argv for c in mkfs.commands)


def test_partitions_on_an_array_are_written_after_the_array_exists() -> None:
    text = (FIXTURES / "rear27_msdos_raid1.conf").read_text()
    text = text.replace("raiddisk /dev/md127 2144337920 loop", "raiddisk /dev/md127 2144337920 gpt")
    text = text.replace(
        "# Filesystems (only",
        "part /dev/md127 1073741824 1048576 rear-noname none /dev/md127p1\n"
        "part /dev/md127 536870912 1074790400 rear-noname swap /dev/md127p2\n# Filesystems (only",
    )
    text = text.replace("fs /dev/md127 /", "fs /dev/md127p1 /")
    plan = build_plan(parse_layout(text), keyfile_exists=lambda _: False)
    ids = [s.id for s in plan.steps]
    assert ids.index("raid-md127") < ids.index("partition-raiddisk-dev-md127")
    assert sfdisk_types(plan, "partition-raiddisk-dev-md127") == {
        "/dev/md127p1": GptType.LINUX_FILESYSTEM.guid,
        "/dev/md127p2": GptType.LINUX_SWAP.guid,
    }
    # verify checks target disks before anything is written: the array does not exist then.
    assert "/dev/md127" not in [d.device for d in plan.disks]
