"""The manifest: deterministic JSON, validation of corrupt or tampered input, bundles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rearbuild.bundle import write_bundle
from rearbuild.checksum import sha256_file
from rearbuild.errors import UserError
from rearbuild.manifest import (
    EntryKind,
    FileRecord,
    Manifest,
    Missing,
    assemble,
    merge,
    object_path,
    sources,
    verify_bundle,
)


def _manifest(tmp_path: Path) -> Manifest:
    data = tmp_path / "data.bin"
    data.write_bytes(b"rescue me\n")
    records = [
        FileRecord(
            "/usr/bin/tool",
            EntryKind.FILE,
            0o755,
            str(data),
            size=10,
            sha256=sha256_file(data),
            reasons=("program tool",),
        ),
        FileRecord("/lib", EntryKind.SYMLINK, 0o777, target="usr/lib", reasons=("merged /usr",)),
        FileRecord("/etc/rear", EntryKind.DIR, 0o700, reasons=("COPY_AS_IS /etc/rear",)),
    ]
    return Manifest(
        tool_version="0",
        facts={"ARCH": "Linux-i386"},
        config={"PROGS": ("a", "b"), "OUTPUT": "ISO", "MAP": (("k", "v"),)},
        kernel_version="6.1",
        kernel_file="/boot/vmlinuz",
        files=merge(records),
        modules_load=("virtio_blk",),
        layout="disk /dev/vda 1 msdos\n",
        network={"hostname": "h"},
    )


def test_round_trip_is_identical_and_sorted(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path)
    text = manifest.dumps()
    again = Manifest.loads(text)
    assert again == manifest
    assert again.dumps() == text
    assert [f.path for f in again.files] == ["/etc/rear", "/lib", "/usr/bin/tool"]
    out = tmp_path / "m.json"
    manifest.write(out)
    assert out.stat().st_mode & 0o777 == 0o600  # the configuration may hold secrets


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t[:-20], "not valid JSON"),
        (lambda t: t.replace('"format": "rearbuild-manifest"', '"format": "other"'), "not a rearbuild manifest"),
        (lambda t: t.replace('"version": 1', '"version": 99'), "format version 99"),
        (lambda t: t.replace('"kernel": {', '"kernal": {'), "lacks the field 'kernel'"),
        (lambda t: t.replace('"mode": "0755"', '"mode": "abc"'), "bad mode"),
        (lambda t: t.replace('"kind": "symlink"', '"kind": "socket"'), "unknown kind"),
        (lambda t: t.replace('"path": "/lib"', '"path": "/zzz"'), "out of order"),
    ],
)
def test_corrupt_manifests_are_rejected_with_a_clear_error(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    text = _manifest(tmp_path).dumps()
    with pytest.raises(UserError, match=message) as info:
        Manifest.loads(mutate(text), "m.json")
    assert "m.json" in info.value.message


def test_missing_sha256_is_rejected(tmp_path: Path) -> None:
    data = json.loads(_manifest(tmp_path).dumps())
    del data["files"][2]["sha256"]
    with pytest.raises(UserError, match="without source or sha256"):
        Manifest.loads(json.dumps(data))


def test_bundle_verification_finds_tampering(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path)
    bundle = tmp_path / "bundle"
    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(b"MZ")
    write_bundle(manifest, kernel, (), bundle)
    verify_bundle(manifest, bundle)
    assert sources(manifest, bundle)["/usr/bin/tool"].read_bytes() == b"rescue me\n"
    record = manifest.file("/usr/bin/tool")
    assert record is not None and record.sha256 is not None
    obj = object_path(bundle, record.sha256)
    obj.write_bytes(b"rescue us\n")
    with pytest.raises(UserError, match="tampered or damaged"):
        verify_bundle(manifest, bundle)


def test_changed_host_file_is_an_error_not_a_different_image(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path)
    (tmp_path / "data.bin").write_bytes(b"grown since collect\n")
    with pytest.raises(UserError, match="changed since collect"):
        sources(manifest, None)


def test_same_path_two_different_things_is_an_error() -> None:
    a = FileRecord("/etc/x", EntryKind.SYMLINK, 0o777, target="a", reasons=("one",))
    b = FileRecord("/etc/x", EntryKind.SYMLINK, 0o777, target="b", reasons=("two",))
    with pytest.raises(UserError, match="two different things"):
        merge([a, b])
    assert merge([a, a]) == (a,)


# ---- assembled from a run: what describes the run or is secret stays out; so does the layout's time stamp ----
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
