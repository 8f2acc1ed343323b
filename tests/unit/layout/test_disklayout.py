"""disklayout.conf reading and writing: round trips, old ReaR formats, error messages."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from rearbuild.errors import UserError
from rearbuild.layout.disklayout import (
    format_layout,
    parse_layout,
    read_layout,
    require_supported,
    unsupported,
)
from rearbuild.layout.model import (
    BtrfsSubvol,
    BtrfsSubvolKind,
    Crypt,
    Disk,
    Fs,
    FsType,
    Keyword,
    Layout,
    LuksType,
    LvmGrp,
    LvmVol,
    Note,
    Part,
    RaidArray,
    ReservedBlocks,
    Verbatim,
)
from rearbuild.layout.partitions import LabelType, PartFlag

FIXTURES = Path(__file__).parent.parent.parent / "fixtures" / "layout"
OURS = ["gpt_lvm", "raid1_lvm", "luks_lvm", "btrfs_sles", "msdos_logical", "wholedisk"]
REARS = ["rear_example_a", "rear_example_b", "rear_example_c"]


@pytest.mark.parametrize("name", OURS)
def test_our_files_round_trip_byte_for_byte(name: str) -> None:
    text = (FIXTURES / f"{name}.conf").read_text()
    assert format_layout(parse_layout(text)) == text


@pytest.mark.parametrize("name", OURS + REARS)
def test_read_write_read_gives_the_same_model(name: str) -> None:
    first = read_layout(FIXTURES / f"{name}.conf")
    second = parse_layout(format_layout(first))
    assert second == first
    assert len(first.entries) > 0


def test_writer_emits_rear_format_comments_and_header() -> None:
    layout = read_layout(FIXTURES / "gpt_lvm.conf")
    text = format_layout(layout)
    lines = text.splitlines()
    assert lines[0] == "# Disk layout dated 20260312094500 (YYYYmmddHHMMSS)"
    disk_at = lines.index("disk /dev/sda 68719476736 gpt gpt_guid=5e2c7a10-3b9d-4f7e-9a41-0c6d2b8e1f33 first_lba=2048")
    assert lines[disk_at - 2 : disk_at] == [
        "# Disk /dev/sda",
        "# Format: disk <devname> <size(bytes)> <partition label type>",
    ]
    assert "# lvmvol <volume_group> <name> <size(bytes)> <layout> [key:value ...]" in lines
    # one format comment per group, not per record
    assert text.count("# Format: fs ") == 1


def test_example_a_old_formats_are_normalised() -> None:
    layout = read_layout(FIXTURES / "rear_example_a.conf")
    records = {(type(e.record), e.excluded): e.record for e in layout.entries}
    vols = [e.record for e in layout.entries if isinstance(e.record, LvmVol)]
    root = next(v for v in vols if v.name == "root" and v.vg == "/dev/system")
    # 2560 extents of 4 MiB = 20971520 sectors of 512 bytes = 10 GiB
    assert root.size == 10 * 1024**3
    assert root.legacy_extents == 2560
    assert root.layout == ("linear",)
    fs_root = next(e.record for e in layout.entries if isinstance(e.record, Fs) and e.record.mountpoint == "/")
    assert fs_root.reserved_blocks == ReservedBlocks(Decimal(131072), percent=False)
    assert fs_root.check_interval_days == 180
    assert fs_root.label == ""
    crypt = next(e.record for e in layout.entries if isinstance(e.record, Crypt))
    assert crypt.type is None and crypt.cipher == "aes-xts-plain" and crypt.hash == "sha1"
    grp = next(e.record for e in layout.entries if isinstance(e.record, LvmGrp) and not e.excluded)
    assert grp == LvmGrp("/dev/system", 4096, 30669, 125620224)
    excluded = [e.record for e in layout.entries if e.excluded]
    assert Disk("/dev/sdb", 320072933376, LabelType.MSDOS) in excluded
    assert len(excluded) == 11
    assert records  # the dict above touches every record type once


def test_example_b_part_flags_and_header() -> None:
    layout = read_layout(FIXTURES / "rear_example_b.conf")
    assert layout.header[0] == "# Disk layout dated 20230519162033 (YYYYmmddHHMMSS)"
    assert len(layout.header) == 8
    prep = layout.entries[1].record
    assert isinstance(prep, Part)
    assert prep.flags == frozenset({PartFlag.BOOT, PartFlag.PREP})
    assert prep.partuuid is None


def test_current_lvmvol_options_thin_pool_and_stripes() -> None:
    layout = parse_layout(
        "lvmvol /dev/vg pool 107374182400b thin,pool poolmetadatasize:109051904b chunksize:65536b\n"
        "lvmvol /dev/vg data 214748364800b thin,sparse thinpool:pool\n"
        "lvmvol /dev/vg fast 1073741824b striped stripesize:65536b stripes:2\n"
        "lvmvol /dev/vg safe 1073741824b mirror mirrors:1 cachemode:writeback\n"
    )
    pool, data, fast, safe = (e.record for e in layout.entries)
    assert isinstance(pool, LvmVol) and pool.is_thin_pool and pool.poolmetadatasize == 109051904
    assert isinstance(data, LvmVol) and data.is_thin_volume and data.thinpool == "pool"
    assert isinstance(fast, LvmVol) and fast.stripes == 2 and fast.stripesize == 65536
    assert isinstance(safe, LvmVol) and safe.mirrors == 1 and safe.extra == (("cachemode", "writeback"),)


def test_part_with_and_without_partuuid_and_gpt_extras() -> None:
    layout = parse_layout(
        "part /dev/sda 1048576 1048576 bios_boot bios_grub /dev/sda1\n"
        "part /dev/sda 1048576 2097152 data none /dev/sda2 no-partuuid\n"
        "part /dev/sda 1048576 3145728 data lvm /dev/sda3 4f1d-uuid gpt_type=E6D6D379-F507-44C2-A23C-238F2A3DF928\n"
    )
    one, two, three = (e.record for e in layout.entries)
    assert isinstance(one, Part) and one.partuuid is None and one.flags == {PartFlag.BIOS_GRUB}
    assert isinstance(two, Part) and two.partuuid is None and two.flags == frozenset()
    assert isinstance(three, Part) and three.partuuid == "4f1d-uuid"
    assert three.gpt_type == "E6D6D379-F507-44C2-A23C-238F2A3DF928"


def test_old_raid_keyword_becomes_raidarray() -> None:
    layout = parse_layout(
        "raid /dev/md0 metadata=1.0 level=raid1 raid-devices=2 uuid=a:b:c:d devices=/dev/sda1,/dev/sdb1\n"
    )
    md = layout.entries[0].record
    assert md == RaidArray("/dev/md0", "raid1", 2, ("/dev/sda1", "/dev/sdb1"), metadata="1.0", uuid="a:b:c:d")
    assert format_layout(layout).splitlines()[-1].startswith("raidarray /dev/md0 level=raid1 raid-devices=2")


def test_luks2_crypt_and_btrfs_subvolumes() -> None:
    luks = read_layout(FIXTURES / "luks_lvm.conf")
    crypt = next(e.record for e in luks.entries if isinstance(e.record, Crypt))
    assert crypt.type is LuksType.LUKS2 and crypt.key_size == 512 and crypt.pbkdf == "argon2id"
    btrfs = read_layout(FIXTURES / "btrfs_sles.conf")
    snapshot = next(e for e in btrfs.entries if isinstance(e.record, BtrfsSubvol) and e.excluded)
    assert snapshot.record == BtrfsSubvol(BtrfsSubvolKind.SNAPSHOT, "/dev/vda2", "/", 272, "@/.snapshots/2/snapshot")


def test_whole_disk_filesystem_has_loop_label_and_no_parts() -> None:
    layout = read_layout(FIXTURES / "wholedisk.conf")
    disk = layout.entries[0].record
    assert isinstance(disk, Disk) and disk.label is LabelType.LOOP and not disk.label.has_partition_table
    fs = next(e.record for e in layout.entries if isinstance(e.record, Fs) and e.record.mountpoint == "/")
    assert fs.device == "/dev/vda"
    assert not any(isinstance(e.record, Part) and e.record.disk == "/dev/vda" for e in layout.entries)


def test_free_comments_are_kept_in_place() -> None:
    text = (
        "lvmgrp /dev/vg 4096 10 40960\n"
        "# WARNING: Volume vg/lv has multiple segments.\n"
        "lvmvol /dev/vg lv 1048576b linear\n"
    )
    layout = parse_layout(text)
    assert Note("# WARNING: Volume vg/lv has multiple segments.") in layout.items
    assert "# WARNING: Volume vg/lv has multiple segments.\n# Format for LVM LVs\n" in format_layout(layout)


def test_unknown_keywords_are_kept_and_reported() -> None:
    text = "disk /dev/sda 1000 gpt\nzpool tank /dev/sda1\nsmartarray 0\n#zvol tank/x\n"
    layout = parse_layout(text, source="/var/lib/rear/layout/disklayout.conf")
    assert layout.entries[1].record == Verbatim("zpool", ("tank", "/dev/sda1"))
    assert "zpool tank /dev/sda1\n" in format_layout(layout)
    found = unsupported(layout)
    assert [u.entry.record for u in found] == [Verbatim("zpool", ("tank", "/dev/sda1"))]
    assert "disklayout.conf:2: unknown keyword 'zpool'" in found[0].describe(layout.source)
    # a caller that can create disks only also hears about the smart array
    assert len(unsupported(layout, creatable={Keyword.DISK})) == 2
    with pytest.raises(UserError, match="zpool"):
        require_supported(layout)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("part /dev/sda 123 456", "part record needs 6 or 7 fields, found 3: 'part /dev/sda 123 456'"),
        ("part /dev/sda 1x 0 p none /dev/sda1", "partition size '1x' is not a whole number"),
        ("part /dev/sda 1 0 p turbo /dev/sda1", "unknown partition flag 'turbo'"),
        ("disk /dev/sda 100 floppy", "partition label type 'floppy' is not one of"),
        ("lvmvol /dev/vg lv 12M linear", "lvmvol size '12M' is neither"),
        ("lvmgrp /dev/vg", "lvmgrp record needs 2 to 4 fields, found 1"),
        ("fs /dev/sda1 / zfs", "file system type 'zfs' cannot be recreated"),
        ("fs /dev/sda1 / ext4 uuid", "'uuid' is not a key=value option"),
        ("raidarray /dev/md0 level=raid1", "raidarray record needs level= and devices="),
        ("crypt /dev/mapper/x /dev/sda2 type=luks9", "crypt type 'luks9'"),
        ("btrfsdefaultsubvol /dev/sda2 / x @", "subvolume ID 'x' is not a whole number"),
        ("  disk /dev/sda 100 gpt", "a record must start at the beginning of the line"),
    ],
)
def test_parse_errors_name_file_line_and_record(line: str, message: str) -> None:
    text = "# header\ndisk /dev/sdz 100 gpt\n" + line + "\n"
    with pytest.raises(UserError) as caught:
        parse_layout(text, source="/var/lib/rear/layout/disklayout.conf")
    error = caught.value
    assert error.message.startswith("/var/lib/rear/layout/disklayout.conf:3: ")
    assert message in error.message
    assert error.hint is not None and "rearbuild savelayout" in error.hint


def test_missing_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="cannot read the disk layout"):
        read_layout(tmp_path / "disklayout.conf")


def test_built_layout_gets_rear_comments() -> None:
    layout = Layout.of(
        [
            Disk("/dev/vda", 1 << 30, LabelType.LOOP),
            Fs("/dev/vda", "/", FsType.EXT4, uuid="u", label=""),
        ],
        header=("# Disk layout dated 20260101000000 (YYYYmmddHHMMSS)",),
    )
    assert format_layout(layout) == (
        "# Disk layout dated 20260101000000 (YYYYmmddHHMMSS)\n"
        "# Disk /dev/vda\n"
        "# Format: disk <devname> <size(bytes)> <partition label type>\n"
        "disk /dev/vda 1073741824 loop\n"
        "# Filesystems (only ext2,ext3,ext4,vfat,xfs,reiserfs,btrfs are supported).\n"
        "# Format: fs <device> <mountpoint> <fstype> [uuid=<uuid>] [label=<label>] [<attributes>]\n"
        "fs /dev/vda / ext4 uuid=u label=\n"
    )
