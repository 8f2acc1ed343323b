"""The USB medium's tree (rearbuild.output.usb): each run adds a dated directory, USB_RETAIN_BACKUP_NR prunes
the oldest of this host only, the menu lists every kept rescue system, newest first; ReaR's naming rules."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from rearbuild.errors import UserError
from rearbuild.output import usb
from rearbuild.output.bootmenu import IsoDefault, Templates
from rearbuild.paths import default_share_dir

MENU = usb.MenuSettings(Templates(default_share_dir() / "images" / "usb"), timeout_ds=10, default=IsoDefault.MANUAL)


def _add(root: Path, host: str, name: str, tmp: Path) -> None:
    (tmp / "k").write_bytes(b"kernel " + name.encode())
    (tmp / "i").write_bytes(b"initrd")
    usb.add_system(root, usb.RescueSystem(host, name), tmp / "k", tmp / "i", ["console=ttyS0", f"x={name}"])


def test_menu_lists_every_kept_system_newest_first(tmp_path: Path) -> None:
    root = tmp_path / "stick"
    for name in ("20260101.1000", "20260102.1000", "20260103.1000"):
        _add(root, "alpha", name, tmp_path)
    _add(root, "beta", "20250101.0000", tmp_path)
    removed = usb.prune(root, "alpha", keep=2)
    assert [s.name for s in removed] == ["20260101.1000"]
    assert not (root / "rear/alpha/20260101.1000").exists()
    assert (root / "rear/beta/20250101.0000/kernel").is_file()  # another host's systems are not ours to prune
    text = usb.write_menu(root, MENU, usb.marker_for("seed"))
    entries = [line for line in text.splitlines() if line.startswith("menuentry") and "Automatic" not in line]
    titles = [line.split('"')[1] for line in entries]
    assert titles[:3] == ["Relax-and-Recover alpha 20260103.1000", "Relax-and-Recover alpha 20260102.1000",
                          "Relax-and-Recover beta 20250101.0000"]  # fmt: skip
    assert "linux /rear/alpha/20260103.1000/kernel console=ttyS0 x=20260103.1000" in text
    assert "initrd /rear/beta/20250101.0000/initrd.cgz" in text
    assert (root / usb.marker_for("seed").lstrip("/")).is_file()
    assert "set default=rescue-0" in text


def test_runs_in_the_same_minute_each_add_one(tmp_path: Path) -> None:
    root = tmp_path / "stick"
    _add(root, "alpha", "20260101.1000", tmp_path)
    second = usb.unique_name(root, usb.RescueSystem("alpha", "20260101.1000"))
    assert second.name == "20260101.1000.2"
    _add(root, "alpha", second.name, tmp_path)
    assert [s.name for s in usb.kept_systems(root)] == ["20260101.1000.2", "20260101.1000"]


def test_names_follow_rear() -> None:
    now = datetime.datetime(2026, 3, 4, 5, 6, 7)
    assert usb.run_name(now) == "20260304.0506"
    assert usb.run_name(now, "weekly") == "weekly"


def test_retain_zero_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="USB_RETAIN_BACKUP_NR=0"):
        usb.prune(tmp_path, "alpha", keep=0)


def test_device_comes_from_usb_device_or_a_usb_url() -> None:
    assert usb.configured_device("/dev/sdz") == Path("/dev/sdz")
    assert usb.configured_device("", "nfs://x/y", "usb:///dev/disk/by-label/REAR-000") == Path(
        "/dev/disk/by-label/REAR-000"
    )
    assert usb.configured_device("", "file:///backup", "") is None


def test_format_layout_is_rears() -> None:
    spec = usb.FormatSpec(esp_bytes=32 * usb.MIB, align_bytes=8 * usb.MIB)
    parts = usb.format_layout(300 * usb.MIB, spec)
    assert [(p.name, p.type.name) for p in parts] == [("BIOS boot", "BIOS_BOOT"), ("REAR-EFI", "ESP"),
                                                     ("REAR-000", "LINUX")]  # fmt: skip
    assert parts[0].start == 24576 and parts[1].start == 8 * usb.MIB and parts[1].size == 32 * usb.MIB
    assert all(p.start % (8 * usb.MIB) == 0 for p in parts[1:]) and parts[-1].end <= 300 * usb.MIB - 33 * 512
    efi_only = usb.format_layout(300 * usb.MIB, usb.FormatSpec(usb.Firmware.EFI, 32 * usb.MIB))
    assert [p.type.name for p in efi_only] == ["ESP", "LINUX"]
    with pytest.raises(UserError, match="too small"):
        usb.format_layout(40 * usb.MIB, spec)
