"""OUTPUT=OBDR's tape layout as a value (rearbuild.output.obdr): the records in order, and the ISO an OBDR drive
boots (El Torito's boot record at sector 17)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pycdlib
import pytest

from rearbuild.backup.tape import LABEL_BYTES
from rearbuild.errors import UserError
from rearbuild.output.obdr import BOOT_RECORD_SECTOR, ISO_SECTOR, check_iso, header_records, obdr_records, settings
from rearbuild.paths import default_share_dir
from tests.conftest import RearEnv, shipped_config


def _iso(path: Path, *, bootable: bool) -> Path:
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, vol_ident="RELAXRECOVER")
    iso.add_fp(__import__("io").BytesIO(b"\xfa" * 2048), 2048, "/BOOT.BIN;1")
    if bootable:
        iso.add_eltorito("/BOOT.BIN;1", bootcatfile="/BOOT.CAT;1", media_name="noemul", boot_load_size=4)
    iso.write(str(path))
    iso.close()
    return path


def test_the_tape_holds_label_iso_and_an_empty_file(tmp_path: Path) -> None:
    iso = _iso(tmp_path / "rescue.iso", bootable=True)
    records = obdr_records("REAR-000", iso, 2048)
    assert [(r.block_size, type(r.payload).__name__) for r in records] == [
        (512, "bytes"), (2048, "PosixPath"), (0, "NoneType")]  # fmt: skip
    label = records[0].payload
    assert isinstance(label, bytes) and len(label) == LABEL_BYTES and label.startswith(b"REAR-000\0")
    assert records[1].payload == iso
    # the drive finds the ISO 20 blocks into the tape: the label is exactly 20 x 512 bytes
    assert len(label) // records[0].block_size == 20
    assert header_records("REAR-000") == records[:1]


def test_an_iso_without_el_torito_at_sector_17_is_refused(tmp_path: Path) -> None:
    iso = _iso(tmp_path / "data.iso", bootable=False)
    with pytest.raises(UserError, match="no El Torito boot record at sector 17"):
        obdr_records("REAR-000", iso, 2048)


def test_the_boot_record_is_where_the_drive_looks(tmp_path: Path) -> None:
    iso = _iso(tmp_path / "rescue.iso", bootable=True)
    check_iso(iso)
    data = iso.read_bytes()
    # HP: "EL TORITO SPECIFICATION" at the 8th byte of the 18th 2048-byte record
    assert data[BOOT_RECORD_SECTOR * ISO_SECTOR + 7 :].startswith(b"EL TORITO SPECIFICATION")


def test_iso_records_must_be_whole_sectors(tmp_path: Path) -> None:
    iso = _iso(tmp_path / "rescue.iso", bootable=True)
    with pytest.raises(UserError, match="OBDR_BLOCKSIZE=512"):
        obdr_records("REAR-000", iso, 512)


def test_obdr_settings(rear_env: RearEnv) -> None:
    with pytest.raises(UserError, match="OUTPUT=OBDR needs TAPE_DEVICE"):
        settings(shipped_config(rear_env, "OUTPUT=OBDR\n"))
    s = settings(shipped_config(rear_env, "OUTPUT=OBDR\nTAPE_DEVICE=/dev/st0\n"))
    assert (s.device, s.label, s.block_size) == ("/dev/nst0", "REAR-000", 2048)
    s = settings(shipped_config(rear_env, "OUTPUT=OBDR\nBACKUP=NETFS\nBACKUP_URL=tape:///dev/nst2\n"))
    assert s.device == "/dev/nst2"


def test_format_and_mkrescue_refuse_a_missing_drive(
    rear_env: RearEnv, rearbuild: Callable[..., tuple[int, str, str]]
) -> None:
    (rear_env.share_dir / "recipes").symlink_to(default_share_dir() / "recipes")
    rear_env.write("etc/local.conf", "OUTPUT=OBDR\nTAPE_DEVICE=/dev/nst97\n")
    status, _, err = rearbuild("format", "/dev/nst97")
    assert status == 1 and "tape device /dev/nst97 does not exist" in err and "Traceback" not in err
    status, _, err = rearbuild("mkrescue")
    assert status == 1 and "tape device /dev/nst97 does not exist" in err, err


def test_obdr_is_an_output_method_with_its_recipes(
    rear_env: RearEnv, rearbuild: Callable[..., tuple[int, str, str]]
) -> None:
    (rear_env.share_dir / "recipes").symlink_to(default_share_dir() / "recipes")
    rear_env.write("etc/local.conf", "OUTPUT=OBDR\nTAPE_DEVICE=/dev/nst0\nBACKUP=NETFS\n")
    status, out, err = rearbuild("-s", "mkbackup")
    listed = out + err
    # -s lists the recipes, then runs the prep checks: there is no tape drive here
    assert status == 1 and "tape device /dev/nst0 does not exist" in err, listed
    for recipe in ("prep/OBDR/default/400_check_tape.py", "output/OBDR/default/800_create_obdr_iso.py",
                   "output/OBDR/default/840_write_tape.py", "backup/NETFS/default/500_make_backup.py"):  # fmt: skip
        assert recipe in listed
    assert listed.index("840_write_tape") < listed.index("500_make_backup")  # the ISO first, the backup after it
