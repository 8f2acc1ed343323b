"""ReaR's exclusions on disk layouts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rearbuild.layout.deps import creation_order
from rearbuild.layout.disklayout import format_layout, parse_layout, read_layout
from rearbuild.layout.exclude import ExclusionSettings, apply_exclusions, exclude_virtual
from rearbuild.layout.model import Layout
from rearbuild.layout.validate import validate
from tests.conftest import RearEnv, shipped_config

FIXTURES = Path(__file__).parent.parent.parent / "fixtures" / "layout"
NOTHING = ExclusionSettings(autoexclude_disks=False, autoexclude_multipath=False, autoexclude_path=())


def commented(layout: Layout) -> list[str]:
    return [line for line in format_layout(layout).splitlines() if line.startswith("#") and line[1] != " "]


def test_defaults_exclude_unused_disk_and_mnt() -> None:
    layout = apply_exclusions(read_layout(FIXTURES / "wholedisk.conf"), ExclusionSettings())
    assert [line.split()[0] for line in commented(layout)] == ["#disk", "#part", "#fs"]
    assert "#fs /dev/vdb1 /mnt/scratch xfs" in format_layout(layout)
    assert [c.name for c in creation_order(layout)] == ["/dev/vda", "fs:/"]


def test_autoexclude_disks_keeps_disks_behind_raid_and_lvm() -> None:
    layout = apply_exclusions(read_layout(FIXTURES / "raid1_lvm.conf"), ExclusionSettings())
    assert {line.split()[1] for line in commented(layout)} == {"/dev/sdc"}
    names = [c.name for c in creation_order(layout)]
    assert "/dev/sdb" in names and "/dev/sdc" not in names


def test_exclude_recreate_of_a_vg_takes_its_tree_and_pvs() -> None:
    settings = ExclusionSettings(autoexclude_disks=False, exclude_recreate=("/dev/debian-vg",))
    layout = apply_exclusions(read_layout(FIXTURES / "luks_lvm.conf"), settings)
    names = [c.name for c in creation_order(layout)]
    assert "pv:/dev/mapper/nvme0n1p3_crypt" not in names
    assert "fs:/srv/data" not in names and "swap:/dev/mapper/debian--vg-swap_1" not in names
    # /boot and /boot/efi are mounted below the excluded / and go with it, as in ReaR
    assert "fs:/boot" not in names and "fs:/boot/efi" not in names
    assert "/dev/mapper/nvme0n1p3_crypt" in names and "/dev/nvme0n1p2" in names


def test_exclude_recreate_of_a_filesystem_takes_nested_mounts() -> None:
    settings = ExclusionSettings(exclude_recreate=("fs:/boot",), autoexclude_disks=False)
    layout = apply_exclusions(read_layout(FIXTURES / "luks_lvm.conf"), settings)
    assert [line.split()[2] for line in commented(layout)] == ["/boot", "/boot/efi"]


def test_only_include_vg() -> None:
    text = (
        "disk /dev/sda 100 gpt\npart /dev/sda 50 0 a lvm /dev/sda1\npart /dev/sda 50 50 b lvm /dev/sda2\n"
        "lvmdev /dev/vg00 /dev/sda1\nlvmdev /dev/data /dev/sda2\n"
        "lvmgrp /dev/vg00 4096\nlvmgrp /dev/data 4096\n"
        "lvmvol /dev/vg00 root 10b linear\nlvmvol /dev/data big 10b linear\n"
        "fs /dev/mapper/vg00-root / ext4\nfs /dev/mapper/data-big /srv xfs\n"
    )
    layout = apply_exclusions(parse_layout(text), ExclusionSettings(only_include_vg=("vg00",)))
    assert commented(layout) == [
        "#lvmdev /dev/data /dev/sda2",
        "#lvmgrp /dev/data 4096",
        "#lvmvol /dev/data big 10b linear",
        "#fs /dev/mapper/data-big /srv xfs",
    ]


def test_btrfs_subvolume_lists_go_with_their_filesystem() -> None:
    settings = ExclusionSettings(exclude_recreate=("fs:/",), autoexclude_disks=False)
    layout = apply_exclusions(read_layout(FIXTURES / "btrfs_sles.conf"), settings)
    lines = commented(layout)
    assert "#btrfsdefaultsubvol /dev/vda2 / 268 @/.snapshots/1/snapshot" in lines
    assert any(line.startswith("#fs /dev/vda3 /home") for line in lines)  # nested below /


def test_no_settings_change_nothing_and_result_round_trips() -> None:
    original = read_layout(FIXTURES / "gpt_lvm.conf")
    assert apply_exclusions(original, NOTHING) == original
    excluded = apply_exclusions(original, ExclusionSettings(exclude_recreate=("fs:/home",)))
    assert parse_layout(format_layout(excluded)) == excluded
    assert excluded != original


def test_multipath_is_autoexcluded_by_default() -> None:
    text = "multipath /dev/mapper/mpatha 1000 gpt sda,sdb\npart /dev/mapper/mpatha 500 1 p none /dev/mapper/mpatha1\n"
    layout = apply_exclusions(parse_layout(text), ExclusionSettings(autoexclude_disks=False))
    assert len(commented(layout)) == 2
    kept = apply_exclusions(parse_layout(text), ExclusionSettings(autoexclude_multipath=False, autoexclude_disks=False))
    assert commented(kept) == []


def test_file_systems_and_swap_on_loop_and_zram_devices_are_excluded_and_named() -> None:
    text = (FIXTURES / "wholedisk.conf").read_text()
    text += "fs /dev/loop0 /srv/image ext4 uuid=0a1b label=\nfs /dev/loop1p2 /srv/image/inner xfs\nswap /dev/zram0\n"
    layout, names = exclude_virtual(parse_layout(text))
    assert names == ("fs:/srv/image", "fs:/srv/image/inner", "swap:/dev/zram0")
    assert commented(layout)[-3:] == [
        "#fs /dev/loop0 /srv/image ext4 uuid=0a1b label=",
        "#fs /dev/loop1p2 /srv/image/inner xfs",
        "#swap /dev/zram0",
    ]
    validate(layout)


def test_a_loop_device_the_layout_describes_is_kept() -> None:
    text = (FIXTURES / "wholedisk.conf").read_text().replace("/dev/vdb", "/dev/loop7")
    layout, names = exclude_virtual(parse_layout(text))
    assert names == () and layout == parse_layout(text)


def test_exclude_md_takes_the_array_and_what_is_on_it() -> None:
    # ReaR's example writes /dev/md0, its script prepends /dev/ to the name: both forms work here
    for name in ("md0", "/dev/md0"):
        layout = apply_exclusions(read_layout(FIXTURES / "raid1_lvm.conf"), replace(NOTHING, exclude_md=(name,)))
        assert [line.split()[:2] for line in commented(layout)] == [["#raidarray", "/dev/md0"], ["#fs", "/dev/md0"]]


def test_exclude_vg_takes_its_pvs_lvs_and_file_systems() -> None:
    layout = apply_exclusions(read_layout(FIXTURES / "raid1_lvm.conf"), replace(NOTHING, exclude_vg=("vg_raid",)))
    names = [c.name for c in creation_order(layout)]
    assert not [n for n in names if "vg_raid" in n or n in ("fs:/", "fs:/var")]
    assert "/dev/md1" in names and "fs:/boot" not in names  # /boot is mounted below the excluded /


def test_exclude_components_is_exclude_recreate() -> None:
    layout = read_layout(FIXTURES / "luks_lvm.conf")
    by_old_name = apply_exclusions(layout, replace(NOTHING, exclude_components=("fs:/boot",)))
    by_new_name = apply_exclusions(layout, replace(NOTHING, exclude_recreate=("fs:/boot",)))
    assert format_layout(by_old_name) == format_layout(by_new_name)
    assert [line.split()[2] for line in commented(by_old_name)] == ["/boot", "/boot/efi"]


def test_a_disk_used_only_by_excluded_mountpoints_is_autoexcluded() -> None:
    layout = read_layout(FIXTURES / "wholedisk.conf")
    # AUTOEXCLUDE_PATH off: /mnt/scratch on vdb keeps vdb; EXCLUDE_MOUNTPOINTS makes it unused
    kept = apply_exclusions(layout, ExclusionSettings(autoexclude_path=()))
    assert not commented(kept)
    gone = apply_exclusions(layout, ExclusionSettings(autoexclude_path=(), exclude_mountpoints=("/mnt/scratch",)))
    assert [line.split()[1] for line in commented(gone)] == ["/dev/vdb", "/dev/vdb", "/dev/vdb1"]


def test_exclusions_are_read_from_rears_variables(rear_env: RearEnv) -> None:
    config = shipped_config(rear_env, "EXCLUDE_VG=( vgdata )\nEXCLUDE_MD=/dev/md1\nEXCLUDE_COMPONENTS=( fs:/x )\n"
                                      "EXCLUDE_MOUNTPOINTS=( /data/ )\n")  # fmt: skip
    settings = ExclusionSettings.from_config(config, automatic=False)
    assert settings.named() == (("EXCLUDE_MD", "/dev/md1"), ("EXCLUDE_VG", "/dev/vgdata"),
                                ("EXCLUDE_COMPONENTS", "fs:/x"))  # fmt: skip
    assert settings.exclude_mountpoints == ("/data",) and not settings.autoexclude_disks
