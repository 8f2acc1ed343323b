"""File systems, btrfs subvolumes and xfs_info captured from real recordings."""

from __future__ import annotations

from rearbuild.collect.disk.capture import capture_all
from rearbuild.collect.disk.probe import RecordedProbe
from rearbuild.layout.model import BtrfsMountedSubvol, BtrfsSubvol, BtrfsSubvolKind, Fs, FsType
from tests.unit.collect.disk.helpers import FIXTURES, before, of, one, order, replay


def test_wholedisk_keeps_xfs_info_for_recreation() -> None:
    captured = capture_all(RecordedProbe(FIXTURES / "wholedisk"))
    assert "agcount=" in captured.xfs_info["/dev/vdb"]


def test_btrfs_subvolumes_default_snapshots_and_mounts() -> None:
    layout = replay("btrfs_subvol")
    root = one(layout, Fs, mountpoint="/")
    assert (root.device, root.fstype, root.label) == ("/dev/vda2", FsType.BTRFS, "system")
    assert (root.nodesize, root.sectorsize) == (16384, 4096)
    assert root.options is not None and "subvol=/@" in root.options
    subvols = {(s.kind, s.path) for s in of(layout, BtrfsSubvol)}
    assert subvols == {
        (BtrfsSubvolKind.DEFAULT, "@"),
        (BtrfsSubvolKind.NORMAL, "@home"),
        (BtrfsSubvolKind.NORMAL, "@snapshots"),
        (BtrfsSubvolKind.NORMAL, "@/var/cache"),
    }
    # Snapshots are written commented out, as ReaR does.
    snapshots = [e.record for e in layout.entries if e.excluded]
    assert [(s.kind, s.path) for s in snapshots if isinstance(s, BtrfsSubvol)] == [
        (BtrfsSubvolKind.SNAPSHOT, "@snapshots/1")
    ]
    mounted = {m.mountpoint: m.path for m in of(layout, BtrfsMountedSubvol)}
    assert mounted == {"/": "@", "/home": "@home", "/.snapshots": "@snapshots"}
    assert one(layout, Fs, mountpoint="/boot/efi").fstype is FsType.VFAT
    names = order(layout)
    assert before(names, "fs:/", "btrfsmountedsubvol:/home") and before(names, "fs:/", "fs:/boot/efi")
