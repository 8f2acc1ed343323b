"""Fast, pure tests of the ISO output: boot menus, ISO naming, pinning, and pycdlib output without boot
loaders (no external tools)."""

from __future__ import annotations

import io
import time
import uuid
from pathlib import Path, PurePosixPath

import pycdlib
import pytest

from rearbuild.errors import UserError
from rearbuild.output import pinned
from rearbuild.output.bootloader import EfiLoader, find_isolinux
from rearbuild.output.bootmenu import (
    BootMenu,
    Entry,
    IsoDefault,
    Templates,
)
from rearbuild.output.efi import MAX_IMAGE_BYTES, image_size_kib
from rearbuild.output.iso import _Namer, write_iso
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


def test_iso9660_names_are_valid_level3_and_unique() -> None:
    namer = _Namer()
    long = PurePosixPath("/d/" + "x" * 40 + ".tar.gz")
    names = [
        namer.iso_path(PurePosixPath("/isolinux/isolinux.bin"), is_dir=False),
        namer.iso_path(PurePosixPath("/.disk/info"), is_dir=False),
        namer.iso_path(PurePosixPath("/isolinux/kernel"), is_dir=False),
        namer.iso_path(PurePosixPath("/d/a-b.txt"), is_dir=False),
        namer.iso_path(PurePosixPath("/d/a_b.txt"), is_dir=False),
        namer.iso_path(long, is_dir=False),
    ]
    assert names[:4] == ["/ISOLINUX/ISOLINUX.BIN;1", "/_DISK/INFO.;1", "/ISOLINUX/KERNEL.;1", "/D/A_B.TXT;1"]
    assert names[4] == "/D/A_B_1.TXT;1"
    assert len(names[5].rsplit("/", 1)[1].removesuffix(";1")) <= 31  # 30 + the dot
    assert namer.iso_path(PurePosixPath("/d/a-b.txt"), is_dir=False) == names[3]  # stable


def test_pinned_pycdlib_stops_pycdlibs_clock_and_restores_it() -> None:
    import pycdlib.dates
    import pycdlib.isohybrid

    with pinned.pinned_pycdlib(epoch=1_000_000_000, seed="s"):
        assert pycdlib.dates.time.time() == 1_000_000_000.0
        assert pycdlib.dates.time.localtime() == time.gmtime(1_000_000_000)
        first = pycdlib.isohybrid.uuid.uuid4()
        assert time.time() > 1_600_000_000  # the rest of the process keeps the real clock
    with pinned.pinned_pycdlib(epoch=1_000_000_000, seed="s"):
        assert pycdlib.isohybrid.uuid.uuid4() == first
    assert pycdlib.dates.time is time
    assert pycdlib.isohybrid.uuid is uuid
    assert first.version == 4


def _plain_iso(tmp_path: Path, name: str, seed: str = "s", epoch: int = 1_700_000_000) -> bytes:
    files: dict[str, Path | bytes] = {"/a/b/hello.txt": b"hello\n", "/Mixed-Case Name.cfg": b"x" * 5000}
    write_iso(tmp_path / name, files, epoch=epoch, seed=seed, boot=None)
    return (tmp_path / name).read_bytes()


def test_plain_iso_is_reproducible_and_depends_on_epoch(tmp_path: Path) -> None:
    first = _plain_iso(tmp_path, "1.iso")
    time.sleep(0.01)
    assert _plain_iso(tmp_path, "2.iso") == first
    assert _plain_iso(tmp_path, "3.iso", epoch=1_700_000_001) != first


def test_plain_iso_reads_back_by_real_names(tmp_path: Path) -> None:
    data = _plain_iso(tmp_path, "1.iso")
    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(data))
    try:
        for kind in ("rr_path", "joliet_path"):
            out = io.BytesIO()
            iso.get_file_from_iso_fp(out, **{kind: "/a/b/hello.txt"})
            assert out.getvalue() == b"hello\n"
        out = io.BytesIO()
        iso.get_file_from_iso_fp(out, rr_path="/Mixed-Case Name.cfg")
        assert out.getvalue() == b"x" * 5000
        assert iso.pvd.volume_identifier.rstrip() == b"RELAXRECOVER"
    finally:
        iso.close()


def test_write_iso_refuses_missing_boot_files_and_bad_volume_ids(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"isolinux\.bin"):
        write_iso(tmp_path / "x.iso", {"/a": b""}, epoch=0, seed="s")
    with pytest.raises(UserError, match="volume id"):
        write_iso(tmp_path / "x.iso", {"/a": b""}, epoch=0, seed="s", volume_id="rear-000", boot=None)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_efi_image_size_grows_with_content_and_stays_within_el_torito() -> None:
    small = image_size_kib({"EFI/BOOT/BOOTX64.EFI": b"x" * 1000})
    big = image_size_kib({"EFI/BOOT/BOOTX64.EFI": b"x" * 4_000_000})
    assert small % 64 == 0 and big % 64 == 0
    assert small < big < MAX_IMAGE_BYTES // 1024
    assert big * 1024 > 4_000_000


def test_find_isolinux_names_the_missing_module(tmp_path: Path) -> None:
    (tmp_path / "isolinux.bin").write_bytes(b"")
    (tmp_path / "ldlinux.c32").write_bytes(b"")
    with pytest.raises(UserError, match=r"menu\.c32") as err:
        find_isolinux([(tmp_path, tmp_path)], modules=("ldlinux.c32", "menu.c32"))
    assert err.value.hint and "syslinux" in err.value.hint
    with pytest.raises(UserError) as missing:
        find_isolinux([(tmp_path / "none", tmp_path)])
    assert missing.value.hint and "apt-get install isolinux" in missing.value.hint


def test_efi_loader_choice() -> None:
    assert EfiLoader.choose(secure_boot=False) is EfiLoader.STANDALONE_GRUB
    assert EfiLoader.SIGNED_SHIM.secure_boot and EfiLoader.SIGNED_SHIM.needs_disk_info
    assert not EfiLoader.STANDALONE_GRUB.secure_boot
