"""Boot menus (rearbuild.output.bootmenu): ISO_DEFAULT, serial console, timeouts, the GRUB and isolinux
configurations, and what a boot loader cannot express."""

from __future__ import annotations

import pytest

from rearbuild.errors import UserError
from rearbuild.output.bootmenu import (
    BootMenu,
    Entry,
    IsoDefault,
    Templates,
)
from rearbuild.paths import default_share_dir

MARKER = "/.disk/rearbuild-0123"


TEMPLATES = Templates(default_share_dir() / "images" / "iso")


def _menu(**kw: object) -> BootMenu:
    args: dict[str, object] = {
        "kernel": "/isolinux/kernel",
        "initrd": "/isolinux/initrd.cgz",
        "marker": MARKER,
        "cmdline": ("console=tty0", "console=ttyS0,115200"),
    }
    args.update(kw)
    return BootMenu(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("iso_default", "label"), [("boothd", "boothd0"), ("manual", "rescue"), ("automatic", "automatic")]
)
def test_iso_default_chooses_the_default_entry_in_both_menus(iso_default: str, label: str) -> None:
    menu = _menu(default=IsoDefault.parse(iso_default))
    assert f"\ndefault {label}\n" in TEMPLATES.isolinux_cfg(menu)
    assert f"\nset default={label}\n" in TEMPLATES.grub_cfg(menu)


def test_iso_default_rejects_unknown_values_with_the_choices() -> None:
    with pytest.raises(UserError, match="boothd, manual, automatic"):
        IsoDefault.parse("sometimes")


def test_isolinux_serial_comes_first_and_entries_carry_the_command_line() -> None:
    cfg = TEMPLATES.isolinux_cfg(_menu(recover_mode="unattended", timeout_ds=30))
    assert cfg.splitlines()[0] == "serial 0 115200"
    assert "\ntimeout 30\n" in cfg
    assert "append initrd=/isolinux/initrd.cgz console=tty0 console=ttyS0,115200\n" in cfg
    assert "console=ttyS0,115200 auto_recover unattended\n" in cfg
    assert "com32 chain.c32" in cfg
    for entry in Entry:
        assert f"label {entry.label}\n" in cfg


def test_timeouts_convert_between_isolinux_and_grub_units() -> None:
    assert "\ntimeout 1\n" in TEMPLATES.isolinux_cfg(_menu(timeout_ds=0))  # 0 would wait for ever
    assert "set timeout=0" in TEMPLATES.grub_cfg(_menu(timeout_ds=0))
    assert "set timeout=2" in TEMPLATES.grub_cfg(_menu(timeout_ds=15))
    assert "\ntimeout 0\n" in TEMPLATES.isolinux_cfg(_menu(timeout_ds=None))
    assert "set timeout=-1" in TEMPLATES.grub_cfg(_menu(timeout_ds=None))


def test_grub_cfg_finds_the_iso_by_file_and_loads_no_modules() -> None:
    cfg = TEMPLATES.grub_cfg(_menu(cmdline=("console=ttyS0,115200", "rd.note=a$b")))
    assert f"search --no-floppy --set=root --file {MARKER}" in cfg
    assert "insmod" not in cfg
    assert "terminal_output serial console" in cfg
    assert "linux /isolinux/kernel console=ttyS0,115200 'rd.note=a$b'" in cfg
    assert f"--file {MARKER}" in TEMPLATES.grub_early_cfg(MARKER)


def test_no_serial_console_means_no_serial_lines() -> None:
    assert "serial" not in TEMPLATES.isolinux_cfg(_menu(serial=None))
    assert "serial" not in TEMPLATES.grub_cfg(_menu(serial=None))


@pytest.mark.parametrize(
    "bad",
    [{"cmdline": ("a b",)}, {"recover_mode": "two words"}, {"kernel": "isolinux/kernel"}, {"timeout_ds": -1}],
)
def test_boot_menu_rejects_what_a_loader_cannot_express(bad: dict[str, object]) -> None:
    with pytest.raises(UserError):
        _menu(**bad)
