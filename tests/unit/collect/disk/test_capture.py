"""capture() on a host where devices cannot be opened and tools are missing: what it still records."""

from __future__ import annotations

from rearbuild.collect.disk.capture import capture
from rearbuild.layout.model import Disk, Fs, FsType, Part
from rearbuild.layout.partitions import LabelType
from tests.unit.collect.disk.helpers import FakeProbe, dev, of, one


def test_unreadable_devices_and_missing_tools_do_not_crash() -> None:
    probe = FakeProbe(
        [dev("/dev/vda", "disk"), dev("/dev/vdb", "disk"), dev("/dev/vdb1", "part", "/dev/vdb")],
        [{"source": "/dev/vda", "target": "/", "fstype": "ext4", "options": "rw", "fsroot": "/"}],
    )
    layout = capture(probe)
    # The host's case: / directly on a disk that may not be opened (sfdisk, blkid, tune2fs all fail).
    assert one(layout, Disk, device="/dev/vda").label is LabelType.LOOP
    assert one(layout, Fs, mountpoint="/") == Fs("/dev/vda", "/", FsType.EXT4, label="", options="rw")
    # Partitions whose table could not be read are left out, with a note in the file.
    assert one(layout, Disk, device="/dev/vdb").label is LabelType.UNKNOWN
    assert of(layout, Part) == []
