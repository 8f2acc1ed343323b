"""Saving a capture: exclusions, refusing what nothing recreates, disklayout.conf and checklayout's difference."""

from __future__ import annotations

from pathlib import Path

import pytest

from rearbuild.collect.disk.capture import capture_all
from rearbuild.collect.disk.probe import RecordedProbe
from rearbuild.collect.disk.save import difference, finish, write
from rearbuild.errors import UserError
from rearbuild.layout.deps import creation_order
from rearbuild.layout.disklayout import format_layout, read_layout
from rearbuild.layout.exclude import ExclusionSettings
from rearbuild.layout.model import Disk, Fs
from rearbuild.layout.partitions import LabelType
from tests.unit.collect.disk.helpers import FIXTURES, SCENARIOS, FakeProbe, dev

# What each recording holds that recovery creates, read from the recorded tool output: the disks and
# partitions (lsblk, sfdisk), MD arrays (mdadm), LUKS mappings (lsblk TYPE crypt), LVM PVs, VGs and LVs (pvs,
# vgs, lvs; a thin pool's hidden _tdata/_tmeta/-tpool are not volumes of their own), the file system of each
# mounted device at its top mount point, every btrfs mount (findmnt) and the active swap (/proc/swaps).
COMPONENTS = {
    "btrfs_subvol": [
        "/dev/vda", "/dev/vda1", "/dev/vda2", "fs:/", "fs:/boot/efi",
        "btrfsmountedsubvol:/", "btrfsmountedsubvol:/home", "btrfsmountedsubvol:/.snapshots",
    ],
    "gpt_lvm": [
        "/dev/vda", "/dev/vda1", "/dev/vda2", "/dev/vda3", "pv:/dev/vda3", "/dev/vg0",
        "/dev/mapper/vg0-root", "/dev/mapper/vg0-home", "/dev/mapper/vg0-swap",
        "fs:/", "fs:/home", "fs:/boot/efi", "swap:/dev/mapper/vg0-swap",
    ],
    "luks_lvm": [
        "/dev/vda", "/dev/vda1", "/dev/vda2", "/dev/mapper/luks-root", "pv:/dev/mapper/luks-root", "/dev/vgcrypt",
        "/dev/mapper/vgcrypt-pool", "/dev/mapper/vgcrypt-root", "/dev/mapper/vgcrypt-swap", "/dev/mapper/vgcrypt-var",
        "fs:/", "fs:/boot", "fs:/var", "swap:/dev/mapper/vgcrypt-swap",
    ],
    "msdos_logical": [
        "/dev/vda", "/dev/vda1", "/dev/vda2", "/dev/vda3", "/dev/vda5", "/dev/vda6", "/dev/vda7",
        "fs:/", "fs:/boot", "fs:/var", "swap:/dev/vda6",
    ],
    "raid1_lvm": [
        "/dev/vda", "/dev/vda1", "/dev/vda2", "/dev/vdb", "/dev/vdb1", "/dev/vdb2", "/dev/md0",
        "pv:/dev/md0", "pv:/dev/vda2", "pv:/dev/vdb2", "/dev/vgsys", "/dev/vgdata",
        "/dev/mapper/vgsys-root", "/dev/mapper/vgdata-srv", "fs:/", "fs:/srv",
    ],
    "wholedisk": ["/dev/vda", "/dev/vdb", "fs:/", "fs:/data"],
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_written_layout_reads_back_to_the_same_model(name: str, tmp_path: Path) -> None:
    captured = capture_all(RecordedProbe(FIXTURES / name))
    layout = finish(captured, ExclusionSettings(), ("# Disk layout dated 20260101000000 (YYYYmmddHHMMSS)",))
    written = write(layout, captured, tmp_path / "layout" / "disklayout.conf", tmp_path)
    again = read_layout(written.layout_file)
    assert again.items == layout.items
    text = written.layout_file.read_text()
    # The model read back writes the same records: checklayout sees no difference ...
    assert difference(text, format_layout(again)) == []
    # ... but it does see a record that is gone.
    last = [line for line in text.splitlines() if line.strip() and not line.startswith("#")][-1]
    assert f"-{last}" in difference(text, text.replace(f"{last}\n", ""))
    # Every component can be ordered for recreation (no cycle, no dangling dependency).
    assert sorted(c.name for c in creation_order(again)) == sorted(COMPONENTS[name])


def test_unused_disks_are_excluded_by_default() -> None:
    captured = capture_all(RecordedProbe(FIXTURES / "wholedisk"))
    layout = finish(captured, ExclusionSettings(exclude_recreate=("fs:/data",)))
    excluded = [e.record for e in layout.entries if e.excluded]
    assert Disk("/dev/vdb", 400 * 1024**2, LabelType.LOOP) in excluded
    assert all(not isinstance(r, Fs) or r.mountpoint == "/" for r in layout.active)


def test_mounted_file_system_nothing_recreates_is_refused_unless_excluded() -> None:
    probe = FakeProbe(
        [dev("/dev/vda", "disk"), dev("/dev/vdb", "disk")],
        [
            {"source": "/dev/vda", "target": "/", "fstype": "ext4", "options": "rw", "fsroot": "/"},
            {"source": "/dev/vdb", "target": "/srv/win", "fstype": "ntfs3", "options": "rw", "fsroot": "/"},
        ],
    )
    captured = capture_all(probe)
    with pytest.raises(UserError, match="ntfs3 on /dev/vdb mounted at /srv/win") as info:
        finish(captured, ExclusionSettings())
    assert info.value.hint is not None and '"fs:/srv/win"' in info.value.hint
    finish(captured, ExclusionSettings(exclude_recreate=("fs:/srv/win",)))
