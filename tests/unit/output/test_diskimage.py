"""GPT layouts and the sfdisk script (rearbuild.output.diskimage): every GUID from the seed, ReaR's BIOS boot
partition at byte 24576, partitions aligned."""

from __future__ import annotations

from rearbuild.output import diskimage
from rearbuild.output.diskimage import MIB, PartType


def test_script_is_a_function_of_the_seed() -> None:
    parts = diskimage.layout([("REAR-EFI", PartType.ESP, 32 * MIB), ("REAR-000", PartType.LINUX, 5 * MIB)],
                             align=MIB, bios_boot=True)  # fmt: skip
    one, two = diskimage.sfdisk_script(parts, "a"), diskimage.sfdisk_script(parts, "a")
    assert one == two and one != diskimage.sfdisk_script(parts, "b")
    assert "start=48, size=2000, type=21686148-6449-6E6F-744E-656564454649" in one
    assert 'name="REAR-000", attrs="LegacyBIOSBootable"' in one
    assert parts[2].start == 33 * MIB and parts[2].size == 5 * MIB
    assert diskimage.disk_size(parts, MIB) == 39 * MIB  # the backup GPT needs the last 33 sectors
