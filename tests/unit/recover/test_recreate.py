"""Which layout recovery recreates: the saved one, a replacement in the configuration directory (migration),
disk mappings with every renamed device (partitions too, for patching fstab and friends)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rearbuild.errors import UserError
from rearbuild.layout.model import Part
from rearbuild.recover.recreate import load

FIXTURES = Path(__file__).parents[2] / "fixtures" / "layout"


def test_the_saved_layout_without_mappings(tmp_path: Path) -> None:
    source = load(tmp_path, FIXTURES / "gpt_lvm.conf")
    assert not source.migration and source.renamed == {}
    assert {r.device for r in source.layout.active if isinstance(r, Part)} == {"/dev/sda1", "/dev/sda2", "/dev/sda3"}


def test_a_mapping_renames_disks_and_their_partitions(tmp_path: Path) -> None:
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "disk_mappings").write_text("# moved to NVMe\n/dev/sda /dev/nvme0n1\n")
    source = load(tmp_path, FIXTURES / "gpt_lvm.conf")
    assert source.migration and "maps disks" in source.why
    assert source.renamed == {
        "/dev/sda": "/dev/nvme0n1",
        "/dev/sda1": "/dev/nvme0n1p1",
        "/dev/sda2": "/dev/nvme0n1p2",
        "/dev/sda3": "/dev/nvme0n1p3",
    }
    assert {r.device for r in source.layout.active if isinstance(r, Part)} == set(source.renamed.values()) - {
        "/dev/nvme0n1"
    }


def test_a_layout_in_the_configuration_directory_replaces_the_saved_one(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "msdos_logical.conf", tmp_path / "disklayout.conf")
    source = load(tmp_path, FIXTURES / "gpt_lvm.conf")
    assert source.migration and "replaces the saved layout" in source.why


def test_no_layout_at_all_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"neither .*disklayout\.conf nor .*disklayout\.conf exists"):
        load(tmp_path, tmp_path / "var" / "disklayout.conf")
