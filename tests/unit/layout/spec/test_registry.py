"""The record specifications: one per keyword, and each agrees with the records it reads and writes."""

from __future__ import annotations

import pytest

from rearbuild.layout.disklayout import format_record, parse_record
from rearbuild.layout.model import Keyword, Verbatim
from rearbuild.layout.spec.registry import SPECS, spec_of

# One line per keyword, as ReaR writes it.
LINES = {
    Keyword.DISK: "disk /dev/sda 68719476736 gpt",
    Keyword.PART: "part /dev/sda 1048576 1048576 rear-noname bios_grub /dev/sda1 no-partuuid",
    Keyword.RAIDARRAY: "raidarray /dev/md0 level=raid1 raid-devices=2 devices=/dev/sda1,/dev/sdb1",
    Keyword.RAIDDISK: "raiddisk /dev/md0 1000 gpt",
    Keyword.MULTIPATH: "multipath /dev/mapper/mpatha 1000 gpt sda,sdb",
    Keyword.LVMDEV: "lvmdev /dev/vg /dev/sda2 uuid 2048",
    Keyword.LVMGRP: "lvmgrp /dev/vg 4096 10 40960",
    Keyword.LVMVOL: "lvmvol /dev/vg lv 1048576b linear",
    Keyword.CRYPT: "crypt /dev/mapper/luks /dev/sda2 type=luks2",
    Keyword.DRBD: "drbd /dev/drbd0 r0 /dev/sda3",
    Keyword.FS: "fs /dev/sda1 / ext4 uuid=u label=",
    Keyword.BTRFSDEFAULTSUBVOL: "btrfsdefaultsubvol /dev/sda2 / 5 /",
    Keyword.BTRFSNORMALSUBVOL: "btrfsnormalsubvol /dev/sda2 / 256 @",
    Keyword.BTRFSMOUNTEDSUBVOL: "btrfsmountedsubvol /dev/sda2 /home rw @/home",
    Keyword.BTRFSSNAPSHOTSUBVOL: "btrfssnapshotsubvol /dev/sda2 / 272 @/.snapshots/1/snapshot",
    Keyword.BTRFSNOCOPYONWRITE: "btrfsnocopyonwrite @/var/lib/machines",
    Keyword.SWAP: "swap /dev/sda4 uuid=u label=",
    Keyword.SMARTARRAY: "smartarray 0",
    Keyword.LOGICALDRIVE: "logicaldrive /dev/sda 0|A|1 raid=1 drives=1I:1:1,1I:1:2",
    Keyword.OPALDISK: "opaldisk /dev/nvme0n1 boot=y",
    Keyword.DASD_CHANNEL: "dasd_channel 0.0.0100 dasda",
}


def test_every_keyword_has_one_specification() -> None:
    assert set(SPECS) == set(Keyword)
    assert all(spec.keyword is keyword for keyword, spec in SPECS.items())


@pytest.mark.parametrize("keyword", list(Keyword))
def test_a_line_reads_into_a_record_of_its_keyword_and_back(keyword: Keyword) -> None:
    record = parse_record(LINES[keyword])
    assert record.keyword is keyword
    assert spec_of(record) is SPECS[keyword]
    assert isinstance(record, Verbatim) is SPECS[keyword].verbatim
    assert format_record(record) == LINES[keyword]


def test_unknown_keywords_have_the_catch_all_specification() -> None:
    record = parse_record("zpool tank /dev/sda1")
    spec = spec_of(record)
    assert spec.keyword is None and spec.verbatim
    assert spec.group(record) == (("verbatim", "zpool"), ())
