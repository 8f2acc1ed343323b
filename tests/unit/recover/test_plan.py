"""Recovery plans for the recorded layouts (tests/fixtures/capture/*): step order, the exact commands that
keep every identity, the rendered bash script, disk mapping and the done-markers of re-runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from rearbuild.collect.disk.capture import capture
from rearbuild.collect.disk.probe import RecordedProbe
from rearbuild.errors import UserError
from rearbuild.layout.disklayout import parse_layout
from rearbuild.layout.model import Layout
from rearbuild.recover.mapping import map_disks, partition_device
from rearbuild.recover.plan import Plan, Step, StepKind, build_plan
from rearbuild.recover.planscript import render, steps_of

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "capture"
SCENARIOS = ["gpt_lvm", "raid1_lvm", "luks_lvm", "btrfs_subvol", "msdos_logical", "wholedisk"]


def layout_of(name: str) -> Layout:
    return capture(RecordedProbe(FIXTURES / name))


def plan_of(name: str, keyfiles: bool = False) -> Plan:
    return build_plan(layout_of(name), keyfile_exists=lambda _: keyfiles)


def ids(plan: Plan) -> list[str]:
    return [s.id for s in plan.steps]


def command_lines(step: Step) -> list[str]:
    return [" ".join(c.argv) for c in step.commands]


def test_kinds_follow_the_stack_order_raid1_lvm() -> None:
    plan = plan_of("raid1_lvm")
    kinds = [s.kind for s in plan.steps]
    # Partitions, then MD, then PVs, VGs, LVs, mkfs, mounts, never going back to an earlier kind.
    assert kinds == sorted(kinds, key=lambda k: k.phase)
    assert ids(plan) == [
        "wipe-vda", "wipe-vdb", "partition-vda", "partition-vdb", "raid-md0",
        "pv-md0", "pv-vda2", "pv-vdb2", "vg-vgdata", "vg-vgsys",
        "lv-mapper-vgdata-srv", "lv-mapper-vgsys-root",
        "mkfs-fs-root", "mkfs-fs-srv", "mount-fs-root", "mount-fs-srv",
    ]  # fmt: skip


def test_luks_comes_between_partitions_and_lvm_and_thin_pool_before_thin_volumes() -> None:
    names = ids(plan_of("luks_lvm"))
    assert names.index("partition-vda") < names.index("crypt-mapper-luks-root") < names.index("pv-mapper-luks-root")
    assert names.index("lv-mapper-vgcrypt-pool") < names.index("lv-mapper-vgcrypt-root")
    assert names.index("lv-mapper-vgcrypt-pool") < names.index("lv-mapper-vgcrypt-var")
    # Mounts: the parent first, and only after every file system exists.
    assert names.index("mount-fs-root") < names.index("mount-fs-boot")
    assert names.index("mount-fs-root") < names.index("mount-fs-var")
    assert max(names.index(n) for n in names if n.startswith("mkfs-")) < names.index("mount-fs-root")


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_mount_comes_after_its_parent(name: str) -> None:
    mounted: list[str] = []
    for _device, target in plan_of(name).mounts:
        parents = [m for m in mounted if target.startswith(m.rstrip("/") + "/")]
        if target != "/mnt/local":
            assert "/mnt/local" in mounted and parents, (target, mounted)
        mounted.append(target)


def test_gpt_sfdisk_script_keeps_disk_guid_first_lba_partuuids_types_and_names() -> None:
    step = plan_of("gpt_lvm").step("partition-vda")
    sfdisk = step.commands[0]
    assert sfdisk.argv[0] == "sfdisk" and sfdisk.argv[-1] == "/dev/vda"
    assert sfdisk.stdin == (
        "label: gpt\n"
        "label-id: 249BA79B-37FA-194C-8BD1-9C5E04891A78\n"
        "device: /dev/vda\n"
        "unit: sectors\n"
        "first-lba: 2048\n"
        "\n"
        "/dev/vda1 : start=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649, "
        'uuid=7856E750-AB97-F34B-9EEC-A51C2EE5C106, name="bios"\n'
        "/dev/vda2 : start=4096, size=409600, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, "
        'uuid=B8119AAA-C634-A844-95DB-3066CA122380, name="EFI System"\n'
        "/dev/vda3 : start=413696, size=3778560, type=E6D6D379-F507-44C2-A23C-238F2A3DF928, "
        'uuid=91A8D0BE-6877-D14B-94B4-8A2E3BABD181, name="lvm"\n'
    )
    # The kernel must see the partitions before anything uses them: no udev to settle in the rescue system.
    assert command_lines(step)[1:] == ["rear_reread /dev/vda"] + [f"rear_wait_dev /dev/vda{n}" for n in (1, 2, 3)]


def test_msdos_script_keeps_the_signature_logical_numbers_types_and_boot_flag() -> None:
    text = plan_of("msdos_logical").step("partition-vda").commands[0].stdin or ""
    assert "label: dos\nlabel-id: 0x2f80f2d5\n" in text
    assert "/dev/vda1 : start=2048, size=307200, type=83, bootable\n" in text
    assert "/dev/vda3 : start=514048, size=2631680, type=5\n" in text
    assert "/dev/vda5 : start=516096, size=1228800, type=83\n" in text
    assert "/dev/vda6 : start=1746944, size=204800, type=82\n" in text
    assert "first-lba" not in text


def test_wipe_clears_the_disk_and_old_signatures_at_every_partition_start() -> None:
    step = plan_of("raid1_lvm").step("wipe-vdb")
    lines = command_lines(step)
    assert lines[0] == "wipefs --all --force /dev/vdb"
    seeks = {int(w.removeprefix("seek=")) for line in lines[1:] for w in line.split() if w.startswith("seek=")}
    assert {1048576, 630194176} <= seeks  # the starts of vdb1 (MD member) and vdb2 (PV)
    assert step.destroys == ("/dev/vdb",) and step.kind.destructive


def test_md_create_keeps_uuid_name_metadata_and_is_documented_assume_clean() -> None:
    step = plan_of("raid1_lvm").step("raid-md0")
    assert step.commands[0].argv == (
        "mdadm", "--create", "/dev/md0", "--run", "--assume-clean", "--metadata=1.2", "--level=raid1",
        "--raid-devices=2", "--name=(none):root", "--uuid=052bc91a:048aaf71:0364156f:86d3e872",
        "/dev/vda1", "/dev/vdb1",
    )  # fmt: skip
    assert step.destroys == ("/dev/vda1", "/dev/vdb1")


def test_lvm_keeps_pv_uuids_extent_size_exact_sizes_and_stripes() -> None:
    plan = plan_of("raid1_lvm")
    pv = plan.step("pv-md0").commands[0].argv
    assert pv[:2] == ("lvm", "pvcreate") and pv[-4:] == (
        "--uuid", "m0sKK9-x5nB-z45V-7OVR-9unM-WGE3-VUXasE", "--norestorefile", "/dev/md0")  # fmt: skip
    # No udev in the rescue system: every LVM command says so itself.
    assert "udev_sync = 0" in pv[pv.index("--config") + 1]
    vg = plan.step("vg-vgdata").commands[0].argv
    assert vg[-5:] == ("--physicalextentsize", "8192k", "vgdata", "/dev/vda2", "/dev/vdb2")
    srv = plan.step("lv-mapper-vgdata-srv").commands[0].argv
    assert srv[srv.index("--size") + 1] == "268435456b"
    assert srv[srv.index("--stripes") + 1] == "2" and srv[srv.index("--stripesize") + 1] == "64k"
    assert srv[-3:] == ("--name", "srv", "vgdata")


def test_thin_pool_and_thin_volumes() -> None:
    plan = plan_of("luks_lvm")
    pool = plan.step("lv-mapper-vgcrypt-pool").commands[0].argv
    assert pool[pool.index("--type") : pool.index("--type") + 2] == ("--type", "thin-pool")
    assert pool[pool.index("--poolmetadatasize") + 1] == "8192k" and pool[pool.index("--chunksize") + 1] == "128k"
    root = plan.step("lv-mapper-vgcrypt-root").commands[0].argv
    assert root[root.index("--virtualsize") + 1] == "943718400b" and root[root.index("--thinpool") + 1] == "pool"


def test_luks_uses_the_saved_parameters_and_a_keyfile_when_present() -> None:
    step = plan_of("luks_lvm", keyfiles=True).step("crypt-mapper-luks-root")
    fmt, opened = step.commands[0].argv, step.commands[1].argv
    assert fmt == (
        "cryptsetup", "luksFormat", "--batch-mode", "--type", "luks2", "--cipher", "aes-xts-plain64",
        "--key-size", "512", "--hash", "sha256", "--uuid", "21540d65-a276-4e6f-b6a3-c01177c0edfb",
        "--pbkdf", "pbkdf2", "--key-file", "/etc/keys/root.key", "/dev/vda2",
    )  # fmt: skip
    assert opened == ("cryptsetup", "open", "--type", "luks", "--key-file", "/etc/keys/root.key", "/dev/vda2",
                      "luks-root")  # fmt: skip
    assert step.passphrase_for is None


def test_luks_without_keyfile_reads_the_passphrase_once_and_never_writes_it() -> None:
    layout = parse_layout(
        "disk /dev/vda 1073741824 gpt\n"
        "part /dev/vda 1071644672 1048576 data none /dev/vda1\n"
        "crypt /dev/mapper/c /dev/vda1 type=luks2 cipher=aes-xts-plain64 key_size=512 hash=sha256 "
        "uuid=11111111-2222-3333-4444-555555555555 password=TopSecret99\n"
        "fs /dev/mapper/c / ext4 uuid=66666666-2222-3333-4444-555555555555 label=root\n",
        "disklayout.conf",
    )
    plan = build_plan(layout)
    step = plan.step("crypt-mapper-c")
    assert step.passphrase_for == "/dev/mapper/c" and plan.passphrases == ("/dev/mapper/c",)
    assert all(c.passphrase for c in step.commands if c.argv[0] == "cryptsetup")
    text = render(plan, Path("/var/lib/rear/recovery/plan-done"))
    assert "TopSecret99" not in text
    assert text.count("rear_read_passphrase /dev/mapper/c") == 1


def test_file_systems_keep_uuid_label_and_attributes() -> None:
    plan = plan_of("gpt_lvm")
    assert command_lines(plan.step("mkfs-fs-root")) == [
        "mkfs.ext4 -F -q -U 530f202d-c832-41b2-945b-83036f8e21e1 -L root -b 4096 -m 5 -i 16372 /dev/mapper/vg0-root",
        "tune2fs -c -1 -i 0d -o user_xattr,acl /dev/mapper/vg0-root",
    ]
    assert command_lines(plan.step("mkfs-fs-home")) == [
        "mkfs.xfs -f -m uuid=1dac72cb-36ee-4952-87ef-f0a5f9d15ec1 -L home /dev/mapper/vg0-home"
    ]
    assert command_lines(plan.step("mkfs-fs-boot-efi")) == ["mkfs.vfat -i B30EDAFB -n ESP /dev/vda2"]
    assert command_lines(plan.step("mkswap-mapper-vg0-swap")) == [
        "mkswap --uuid f99081bf-5a2b-4a3c-83ba-766e36508746 --label swap0 /dev/mapper/vg0-swap"
    ]


def test_btrfs_subvolumes_in_id_order_default_and_subvol_mounts() -> None:
    plan = plan_of("btrfs_subvol")
    assert command_lines(plan.step("mkfs-fs-root")) == [
        "mkfs.btrfs -f -U df2906e1-2b36-4b9a-a1be-c09514bde7b2 -L system -n 16384 -s 4096 /dev/vda2"
    ]
    sub = command_lines(plan.step("subvolumes-fs-root"))
    created = [line.split()[-1].split("vda2/", 1)[1] for line in sub if line.startswith("btrfs subvolume create")]
    assert created == ["@", "@home", "@snapshots", "@/var/cache"]  # ids 256..259; the snapshot is excluded
    assert "btrfs subvolume set-default /tmp/rearbuild-btrfs-vda2/@" in sub
    assert dict((t, d) for d, t in plan.mounts) == {
        "/mnt/local": "/dev/vda2", "/mnt/local/.snapshots": "/dev/vda2", "/mnt/local/home": "/dev/vda2",
        "/mnt/local/boot/efi": "/dev/vda1",
    }  # fmt: skip
    home = plan.step("mount-btrfsmountedsubvol-home").commands[1].argv
    assert "subvol=/@home" in home[home.index("-o") + 1].split(",")
    assert not any(o.startswith("subvolid=") for o in home[home.index("-o") + 1].split(","))


def test_whole_disk_file_systems_are_wiped_not_partitioned() -> None:
    plan = plan_of("wholedisk")
    assert [s.kind for s in plan.steps if s.component == "/dev/vda"] == [StepKind.WIPE]
    assert [(d.device, d.needed) for d in plan.disks] == [("/dev/vda", 536870912), ("/dev/vdb", 419430400)]


# The backup GPT at the end of a disk (UEFI spec 2.10, 5.3): the backup GPT header in the last logical block (one
# 512-byte sector) and, just before it, the backup partition entry array of NumberOfPartitionEntries entries of
# SizeOfPartitionEntry bytes: 128 x 128 as sfdisk writes them (the spec reserves at least 16,384 bytes for it).
SECTOR = 512
BACKUP_GPT_BYTES = SECTOR + 128 * 128


def test_needed_size_is_the_end_of_the_last_partition_plus_the_backup_gpt() -> None:
    assert [(d.device, d.needed) for d in plan_of("gpt_lvm").disks] == [
        ("/dev/vda", 211812352 + 1934622720 + BACKUP_GPT_BYTES)
    ]


@pytest.mark.parametrize("name", SCENARIOS)
def test_rendered_script_is_valid_bash_and_lists_every_step(name: str, tmp_path: Path) -> None:
    plan = plan_of(name)
    text = render(plan, tmp_path / "done")
    script = tmp_path / "diskrestore.sh"
    script.write_text(text)
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    declared = steps_of(text)
    assert [s.id for s in declared] == ids(plan)
    assert [s.destroys for s in declared] == [s.destroys for s in plan.steps]


def test_mapping_moves_disks_and_partitions_by_number() -> None:
    mapped = map_disks(layout_of("raid1_lvm"), {"/dev/vda": "/dev/vdb", "/dev/vdb": "/dev/nvme0n1"})
    plan = build_plan(mapped)
    md = plan.step("raid-md0").commands[0].argv
    assert md[-2:] == ("/dev/vdb1", "/dev/nvme0n1p1")
    assert plan.step("vg-vgdata").commands[0].argv[-2:] == ("/dev/vdb2", "/dev/nvme0n1p2")
    text = plan.step("partition-nvme0n1").commands[0].stdin or ""
    # The disk GUID of the old vdb moves with it.
    assert "label-id: 27652DC4-A7E7-A346-A719-AE7CD229AE08\ndevice: /dev/nvme0n1\n" in text
    assert "/dev/nvme0n1p2 : start=1230848" in text
    assert partition_device("/dev/loop3", 2) == "/dev/loop3p2"


def test_a_component_nothing_can_create_is_named() -> None:
    layout = parse_layout(
        "disk /dev/sda 1073741824 gpt\n"
        "part /dev/sda 1071644672 1048576 data none /dev/sda1\n"
        "drbd /dev/drbd0 r0 /dev/sda1\n"
        "fs /dev/drbd0 /data ext4 uuid=66666666-2222-3333-4444-555555555555\n",
        "disklayout.conf",
    )
    with pytest.raises(UserError, match=r"nothing can recreate /dev/drbd0 \(drbd\)"):
        build_plan(layout)


def test_partition_not_on_sector_boundary_is_refused() -> None:
    layout = parse_layout("disk /dev/sda 1073741824 gpt\npart /dev/sda 1000 1048576 data none /dev/sda1\n", "x")
    with pytest.raises(UserError, match="not a whole number of 512-byte sectors"):
        build_plan(layout)
