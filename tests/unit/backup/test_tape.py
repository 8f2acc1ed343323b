"""The tape model (rearbuild.backup.tape): the label, device names, block sizes, and where NETFS puts the archive
on a tape (BACKUP_URL=tape://, TAPE_DEVICE, OUTPUT=OBDR). The drive itself runs in tests/vm/tape."""

from __future__ import annotations

import pytest

from rearbuild.backup.netfs import KeyNeed, settings
from rearbuild.backup.tape import (
    LABEL_BYTES,
    Drive,
    Record,
    TapeLayout,
    Trailer,
    has_label,
    label_bytes,
    nonrewinding,
    parse_block_size,
    record_size,
)
from rearbuild.errors import UserError
from tests.conftest import RearEnv, shipped_config


def test_the_label_is_rears_obdr_header() -> None:
    header = label_bytes("REAR-000")
    assert len(header) == LABEL_BYTES == 20 * 512
    assert header.startswith(b"REAR-000\0") and header.rstrip(b"\0") == b"REAR-000"
    assert has_label(header[:512], "REAR-000")


def test_a_longer_or_other_label_does_not_match() -> None:
    # ReaR compares 8 characters only (rear#1535): REAR-0001 would pass as REAR-000 there
    assert not has_label(label_bytes("REAR-0001")[:512], "REAR-000")
    assert not has_label(b"\0" * 512, "REAR-000")
    assert not has_label(b"", "REAR-000")
    with pytest.raises(UserError, match="cannot be written"):
        label_bytes("")
    with pytest.raises(UserError):
        label_bytes("RÉAR")


@pytest.mark.parametrize(
    ("device", "expected"),
    [("/dev/st0", "/dev/nst0"), ("/dev/st1l", "/dev/nst1l"), ("/dev/nst0", "/dev/nst0"),
     ("/dev/tape/by-id/scsi-X-nst", "/dev/tape/by-id/scsi-X-nst")],
)  # fmt: skip
def test_a_rewinding_device_becomes_the_non_rewinding_one(device: str, expected: str) -> None:
    assert nonrewinding(device) == expected


def test_block_sizes() -> None:
    assert parse_block_size("TAPE_BLOCKSIZE", "") == 0
    assert parse_block_size("TAPE_BLOCKSIZE", "65536") == 65536
    for bad in ("1000", "-512", "64k"):
        with pytest.raises(UserError, match="TAPE_BLOCKSIZE"):
            parse_block_size("TAPE_BLOCKSIZE", bad)


def test_a_fixed_block_record_must_be_whole() -> None:
    with pytest.raises(ValueError, match="whole records"):
        Record(512, b"x" * 513)


def test_dd_writes_full_records_and_reads_the_archive_length() -> None:
    drive = Drive("/dev/nst0")
    variable, fixed = drive.write_step(0).argv, drive.write_step(512).argv
    # every record full, the last one padded: a short last record came back corrupted from tgt's virtual drive
    assert "bs=1048576" in variable and "conv=sync" in variable and "iflag=fullblock" in variable
    assert "bs=1048576" in fixed  # 2048 records of 512 bytes each: st takes a multiple of the fixed block size
    assert "bs=1047552" in drive.write_step(1536).argv  # the largest multiple of 1536 up to 1 MiB
    dd, head = drive.read_steps(0, 12345)
    assert dd.argv[:3] == ("dd", "if=/dev/nst0", "bs=1048576") and head.argv == ("head", "-c", "12345")
    assert record_size(0) == 1 << 20 and record_size(4 << 20) == 4 << 20


def test_the_trailer_carries_length_and_checksum() -> None:
    trailer = Trailer(3_000_123, "ab" * 32)
    data = trailer.encode(1 << 20)
    assert len(data) == 1 << 20 and Trailer.decode(data[:512]) == trailer
    assert Trailer.decode(label_bytes("REAR-000")) is None and Trailer.decode(b"") is None


def test_netfs_to_a_tape(rear_env: RearEnv) -> None:
    s = settings(shipped_config(rear_env, "BACKUP=NETFS\nBACKUP_URL=tape:///dev/st0\n"), key=KeyNeed.CONFIGURED)
    assert s.tape is not None and s.tape.device == "/dev/nst0" and s.tape.layout is TapeLayout.PLAIN
    assert s.tape.layout.backup_file == 0 and s.tape.block_size == 0 and s.tape.label == "REAR-000"


def test_tape_device_alone_means_a_tape_backup_url(rear_env: RearEnv) -> None:
    config = shipped_config(rear_env, "BACKUP=NETFS\nOUTPUT=OBDR\nTAPE_DEVICE=/dev/nst1\nTAPE_BLOCKSIZE=512\n")
    s = settings(config, key=KeyNeed.CONFIGURED)
    assert s.url.text == "tape:///dev/nst1" and s.tape is not None
    # OBDR: label, ISO, empty file, then the archive (ReaR's `mt fsf 3`)
    assert s.tape.layout is TapeLayout.OBDR and s.tape.layout.backup_file == 3 and s.tape.block_size == 512


def test_a_wrong_tape_block_size_is_refused(rear_env: RearEnv) -> None:
    config = shipped_config(rear_env, "BACKUP=NETFS\nBACKUP_URL=tape:///dev/nst0\nTAPE_BLOCKSIZE=100\n")
    with pytest.raises(UserError, match="TAPE_BLOCKSIZE='100'"):
        settings(config, key=KeyNeed.CONFIGURED)


def test_a_missing_drive_is_a_clear_error(tmp_path: object) -> None:
    with pytest.raises(UserError, match="does not exist") as raised:
        Drive("/dev/nst97").check_ready(write=True)
    assert "modprobe st" in (raised.value.hint or "")
