"""What a NETFS backup archives: the layout's mount tree, includes and excludes (backup/selection.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rearbuild.backup.selection import select
from rearbuild.layout.disklayout import parse_layout, read_layout

FIXTURES = Path(__file__).parents[2] / "fixtures" / "layout"


def _devices(mapping: dict[str, int]) -> Callable[[str], int | None]:
    return lambda path: mapping.get(path)


def test_includes_follow_the_layout_mount_tree() -> None:
    layout = read_layout(FIXTURES / "gpt_lvm.conf")
    chosen = select(
        layout,
        exclude=("/tmp/*",),
        extra_excludes=("/var/tmp/rear.X", "/backup"),
        device_of=_devices({"/": 1, "/home": 2, "/boot/efi": 3}),
    )
    assert set(chosen.includes) == {"/", "/home", "/boot/efi"}
    assert chosen.excludes == ("/tmp/*", "/var/tmp/rear.X", "/backup")


def test_mounted_btrfs_subvolumes_are_included() -> None:
    layout = read_layout(FIXTURES / "btrfs_sles.conf")
    devices = {"/": 1, "/.snapshots": 2, "/var": 3, "/opt": 4, "/srv": 5, "/home": 6}
    chosen = select(layout, device_of=_devices(devices))
    assert {"/var", "/opt", "/srv", "/home"} <= set(chosen.includes)


def test_only_include_and_nested_includes() -> None:
    layout = read_layout(FIXTURES / "gpt_lvm.conf")
    devices = {"/": 1, "/home": 2, "/boot/efi": 3, "/data": 1, "/data/sub": 1, "/home/u": 2}
    only = select(layout, include=("/data", "/data/sub"), only_include=True, device_of=_devices(devices))
    assert only.includes == ("/data",), "an include inside another on the same file system would be archived twice"
    both = select(layout, include=("/home/u", "/gone"), device_of=_devices(devices))
    assert "/home/u" not in both.includes and both.missing == ("/gone",)


def test_excluded_file_systems_are_excluded_from_the_backup() -> None:
    layout = parse_layout("fs /dev/sda1 / ext4 uuid=a label=\n#fs /dev/sdb1 /data xfs uuid=b label=\n", source="t.conf")
    chosen = select(layout, device_of=_devices({"/": 1, "/data": 2}))
    assert chosen.includes == ("/",) and "/data" in chosen.excludes
    only_exclude = select(
        layout, only_exclude=True, exclude=("/x",), extra_excludes=("/build",), device_of=_devices({"/": 1})
    )
    assert only_exclude.excludes == ("/x",)


def test_exclude_mountpoints_are_neither_included_nor_archived() -> None:
    layout = read_layout(FIXTURES / "gpt_lvm.conf")
    devices = _devices({"/": 1, "/home": 2, "/boot/efi": 3})
    chosen = select(layout, exclude_mountpoints=("/home/",), device_of=devices)
    assert set(chosen.includes) == {"/", "/boot/efi"} and chosen.excludes == ("/home",)
    # BACKUP_ONLY_EXCLUDE: only BACKUP_PROG_EXCLUDE is excluded (ReaR's rule), the mount point still is not included
    only = select(layout, exclude_mountpoints=("/home",), only_exclude=True, device_of=devices)
    assert "/home" not in only.includes and only.excludes == ()
