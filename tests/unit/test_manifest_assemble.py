"""The manifest assembled from a run: what describes the run or is secret stays out; the layout's time stamp too,
so two collections of an unchanged host are equal."""

from __future__ import annotations

from rearbuild.manifest import EntryKind, FileRecord, Missing, assemble


def _assemble(layout: str, config: dict[str, str]) -> str:
    record = FileRecord(path="usr/bin/x", kind=EntryKind.DIR, mode=0o755, reasons=("PROGS",))
    return assemble(
        tool_version="0", facts={"HOSTNAME": "h"}, config=config, kernel_version="6.1", kernel_file="/boot/vmlinuz",
        records=[record, record], modules_load=("virtio_blk",), layout=layout, network={},
        missing=Missing(firmware=("b.fw", "a.fw")),
    ).dumps()  # fmt: skip


def test_run_specific_and_secret_variables_stay_out() -> None:
    text = _assemble("", {"OUTPUT": "ISO", "BUILD_DIR": "/tmp/rear.1", "BACKUP_PROG_CRYPT_KEY": "s3cr3t"})
    assert '"OUTPUT"' in text and "BUILD_DIR" not in text and "s3cr3t" not in text


def test_the_layout_time_stamp_does_not_change_the_manifest() -> None:
    body = "disk /dev/vda 1073741824 gpt\n"
    first = _assemble(f"# Disk layout dated 20261129120000 (YYYYmmddHHMMSS)\n{body}", {})
    second = _assemble(f"# Disk layout dated 20261130080000 (YYYYmmddHHMMSS)\n{body}", {})
    assert first == second and "disk /dev/vda" in first and "dated" not in first


def test_missing_firmware_sorted_and_records_merged() -> None:
    text = _assemble("", {})
    assert text.count('"usr/bin/x"') == 1
    assert text.index('"a.fw"') < text.index('"b.fw"')
