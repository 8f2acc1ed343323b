"""Firmware of the chosen modules and FIRMWARE_FILES."""

from __future__ import annotations

from pathlib import Path

from rearbuild.collect.kmod.firmware import FirmwareMode, collect_firmware, module_firmware
from rearbuild.collect.kmod.index import ModuleIndex
from tests.unit.collect.kmod.tree import KVER


def test_firmware_present_missing_compressed_and_symlinked(tree: Path) -> None:
    firmware = tree / "lib/firmware"
    (firmware / "vendor").mkdir(parents=True)
    (firmware / "vendor/wlan-1.2.bin.xz").write_bytes(b"xz firmware")
    (firmware / "vendor/wlan.bin.xz").symlink_to("wlan-1.2.bin.xz")  # how linux-firmware ships versions
    (firmware / "nic").mkdir()
    (firmware / "nic/fw.bin").write_bytes(b"fw")
    (firmware / "unrelated.bin").write_bytes(b"other")
    index = ModuleIndex.load(tree, KVER)
    wanted = module_firmware(index, ["wlan", "nic", "ext4"])
    assert wanted == {"nic/fw.bin": ("nic",), "vendor/gone.bin": ("wlan",), "vendor/wlan.bin": ("wlan",)}

    found, missing = collect_firmware(tree, KVER, wanted)
    by_target = {str(f.target): f for f in found}
    assert set(by_target) == {
        "lib/firmware/nic/fw.bin",
        "lib/firmware/vendor/wlan.bin.xz",
        "lib/firmware/vendor/wlan-1.2.bin.xz",
    }
    assert by_target["lib/firmware/vendor/wlan.bin.xz"].link == "wlan-1.2.bin.xz"
    assert by_target["lib/firmware/vendor/wlan-1.2.bin.xz"].link is None
    assert by_target["lib/firmware/nic/fw.bin"].needed_by == ("nic",)
    assert [(m.name, m.needed_by) for m in missing] == [("vendor/gone.bin", ("wlan",))]


def test_firmware_files_modes(tree: Path) -> None:
    firmware = tree / "lib/firmware"
    (firmware / "nic").mkdir(parents=True)
    (firmware / "nic/fw.bin").write_bytes(b"fw")
    (firmware / "Intel").mkdir()
    (firmware / "Intel/ibt.sfi").write_bytes(b"bt")
    wanted = {"nic/fw.bin": ("nic",)}

    def targets(mode: list[str]) -> set[str]:
        return {str(f.target) for f in collect_firmware(tree, KVER, wanted, mode)[0]}

    assert FirmwareMode.of([]) is FirmwareMode.MODULES and targets([]) == {"lib/firmware/nic/fw.bin"}
    assert FirmwareMode.of(["yes"]) is FirmwareMode.ALL
    assert targets(["yes"]) == {"lib/firmware/nic/fw.bin", "lib/firmware/Intel/ibt.sfi"}
    assert FirmwareMode.of(["no"]) is FirmwareMode.NONE and targets(["no"]) == set()
    assert targets(["*/intel/*"]) == {"lib/firmware/Intel/ibt.sfi"}  # -ipath: case-insensitive
