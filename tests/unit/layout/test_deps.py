"""Dependency graph and creation order of disk layouts."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from rearbuild.errors import UserError
from rearbuild.layout.deps import build_graph, creation_order
from rearbuild.layout.disklayout import parse_layout, read_layout

FIXTURES = Path(__file__).parent.parent.parent / "fixtures" / "layout"


def order(name: str) -> list[str]:
    return [c.name for c in creation_order(read_layout(FIXTURES / f"{name}.conf"))]


def before(names: list[str], *chain: str) -> bool:
    return all(names.index(a) < names.index(b) for a, b in itertools.pairwise(chain))


def test_gpt_lvm_order_and_nested_mounts() -> None:
    names = order("gpt_lvm")
    assert before(names, "/dev/sda", "/dev/sda3", "pv:/dev/sda3", "/dev/vg0", "/dev/mapper/vg0-root", "fs:/")
    # /home and /boot/efi come after / although the file lists /home first
    assert before(names, "fs:/", "fs:/home")
    assert before(names, "fs:/", "fs:/boot/efi")
    assert before(names, "/dev/mapper/vg0-swap", "swap:/dev/mapper/vg0-swap")
    assert len(names) == len(set(names)) == 13


def test_raid_members_before_array_before_pv() -> None:
    names = order("raid1_lvm")
    assert before(names, "/dev/sda3", "/dev/md1", "pv:/dev/md1", "/dev/vg_raid", "/dev/mapper/vg_raid-root")
    assert before(names, "/dev/sdb3", "/dev/md1")
    assert before(names, "/dev/sdb2", "/dev/md0", "fs:/boot")
    assert before(names, "fs:/", "fs:/boot")


def test_crypt_before_pv_and_thin_pool_before_thin_volume() -> None:
    names = order("luks_lvm")
    assert before(names, "/dev/nvme0n1p3", "/dev/mapper/nvme0n1p3_crypt", "pv:/dev/mapper/nvme0n1p3_crypt")
    assert before(names, "/dev/mapper/debian--vg-pool0", "/dev/mapper/debian--vg-data", "fs:/srv/data")


def test_btrfs_mounted_subvolumes_after_their_filesystem() -> None:
    names = order("btrfs_sles")
    assert before(names, "/dev/vda2", "fs:/", "btrfsmountedsubvol:/", "btrfsmountedsubvol:/var")
    assert before(names, "btrfsmountedsubvol:/", "fs:/home")


def test_msdos_logical_partitions_after_the_extended_one_in_file_order() -> None:
    assert order("msdos_logical")[:6] == ["/dev/sda", "/dev/sda1", "/dev/sda2", "/dev/sda5", "/dev/sda6", "/dev/sda7"]


def test_whole_disk_filesystem_depends_on_the_disk() -> None:
    layout = read_layout(FIXTURES / "wholedisk.conf")
    assert build_graph(layout).parents("fs:/") == ("/dev/vda",)


def test_rear_example_a_crypt_under_lvm_and_excluded_records_left_out() -> None:
    names = order("rear_example_a")
    assert before(names, "/dev/sda2", "/dev/mapper/disk", "pv:/dev/mapper/disk", "/dev/system")
    assert "/dev/sdb" not in names and "/dev/backup" not in names


def test_rear_examples_b_and_c() -> None:
    assert order("rear_example_b") == ["/dev/sda", "/dev/sda1", "/dev/sda2", "/dev/sda3", "/dev/sda4", "fs:/"]
    assert order("rear_example_c")[-3:] == ["/dev/system", "/dev/mapper/system-root", "/dev/mapper/system-swap"]


def test_ready_components_keep_file_order() -> None:
    layout = parse_layout("disk /dev/sdb 100 gpt\ndisk /dev/sda 100 gpt\npart /dev/sda 10 0 a none /dev/sda1\n")
    assert [c.name for c in creation_order(layout)] == ["/dev/sdb", "/dev/sda", "/dev/sda1"]


def test_missing_dependency_is_a_clear_error() -> None:
    layout = parse_layout("disk /dev/sda 100 gpt\nfs /dev/sdb1 /data xfs\n", source="disklayout.conf")
    with pytest.raises(UserError, match=r"disklayout.conf:2: fs:/data needs /dev/sdb1, which the disk layout"):
        creation_order(layout)


def test_cycle_is_a_clear_error() -> None:
    layout = parse_layout("crypt /dev/mapper/a /dev/mapper/b\ncrypt /dev/mapper/b /dev/mapper/a\n")
    with pytest.raises(UserError, match="dependency cycle: /dev/mapper/a waits for /dev/mapper/b"):
        creation_order(layout)


def test_multipath_slaves_are_provided_by_the_hardware() -> None:
    layout = parse_layout(
        "multipath /dev/mapper/mpatha 1000 gpt sda,sdb\npart /dev/mapper/mpatha 500 1 p none /dev/mapper/mpatha1\n"
    )
    graph = build_graph(layout)
    assert graph.parents("/dev/mapper/mpatha") == ("/dev/sda", "/dev/sdb")
    assert [c.name for c in creation_order(layout, graph)] == ["/dev/mapper/mpatha", "/dev/mapper/mpatha1"]


def test_dependents_of_a_disk_are_its_whole_tree() -> None:
    graph = build_graph(read_layout(FIXTURES / "luks_lvm.conf"))
    tree = graph.dependents("/dev/nvme0n1p3")
    assert {"/dev/mapper/nvme0n1p3_crypt", "/dev/debian-vg", "fs:/", "fs:/boot", "fs:/srv/data"} <= tree
    assert "/dev/nvme0n1p2" not in tree
    assert graph.dependents("fs:/boot") == frozenset({"fs:/boot/efi"})


def test_duplicate_component_is_an_error() -> None:
    with pytest.raises(UserError, match=r"disklayout\.conf:2: component /dev/sda is described twice"):
        build_graph(parse_layout("disk /dev/sda 100 gpt\ndisk /dev/sda 100 gpt\n"))
