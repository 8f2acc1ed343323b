"""Bundles (rearbuild.bundle): written as a directory or a reproducible tar, read back whole, and refused with a
message naming the problem when tampered, truncated, foreign or of another format version."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from rearbuild.build.cpio import CpioArchive, Kind
from rearbuild.build.generated import config_entries
from rearbuild.bundle import INDEX, host_settings, load_bundle, write_bundle
from rearbuild.checksum import sha256_file
from rearbuild.errors import UserError
from rearbuild.manifest import EntryKind, FileRecord, Manifest, merge, object_path

KEY = "Top-Secret-Key-0815"


def _host(tmp_path: Path) -> tuple[Manifest, Path, Path]:
    """A manifest of two files, a kernel and a configuration directory holding the backup key."""
    host = tmp_path / "host"
    host.mkdir()
    tool, lib = host / "tool", host / "libx.so"
    tool.write_bytes(b"rescue me\n")
    lib.write_bytes(b"\x7fELF library")
    kernel = host / "vmlinuz"
    kernel.write_bytes(b"MZ kernel image")
    etc = host / "etc"
    (etc / "rescue").mkdir(parents=True)
    (etc / "local.conf").write_text(f"OUTPUT=ISO\nBACKUP_PROG_CRYPT_KEY='{KEY}'\n")
    (etc / "rescue" / "extra.conf").write_text("PROGS+=( vim )\n")
    records = [
        FileRecord("/usr/bin/tool", EntryKind.FILE, 0o755, str(tool), size=10, sha256=sha256_file(tool)),
        FileRecord("/usr/lib/libx.so", EntryKind.FILE, 0o644, str(lib), size=12, sha256=sha256_file(lib)),
        FileRecord("/lib", EntryKind.SYMLINK, 0o777, target="usr/lib"),
    ]
    manifest = Manifest(
        tool_version="0",
        facts={"HOSTNAME": "h"},
        config={"OUTPUT": "ISO", "OUTPUT_URL": "file:///host/out", "ISO_DIR": "/host/iso",
                "S3_ENDPOINT_URL": "http://host-s3", "PROGS": ("a", "b")},
        kernel_version="6.1",
        kernel_file=str(kernel),
        files=merge(records),
    )
    return manifest, kernel, etc


@pytest.mark.parametrize("name", ["dir", "b.tar"])
def test_a_bundle_reads_back_whole_without_the_host(tmp_path: Path, name: str) -> None:
    manifest, kernel, etc = _host(tmp_path)
    dest = tmp_path / name
    write_bundle(manifest, kernel, config_entries(etc), dest)
    expected_config = {e.path: e for e in config_entries(etc)}
    for path in (tmp_path / "host").rglob("*"):  # nothing of the host is needed any more
        if path.is_file():
            path.write_bytes(b"changed after collect")
    bundle = load_bundle(dest, tmp_path / "work")
    assert bundle.manifest == manifest
    assert bundle.kernel.read_bytes() == b"MZ kernel image"
    assert bundle.object(manifest.files[1].sha256 or "").read_bytes() == b"rescue me\n"
    assert [(e.path, e.kind, e.mode) for e in bundle.config] == [
        (e.path, e.kind, e.mode) for e in expected_config.values()
    ]
    local = next(e for e in bundle.config if e.path == "etc/rear/local.conf")
    assert local.kind is Kind.FILE and local.source is not None
    assert local.source.read_text() == "OUTPUT=ISO\nBACKUP_PROG_CRYPT_KEY=''\n"


def test_the_backup_key_never_enters_a_bundle(tmp_path: Path) -> None:
    manifest, kernel, etc = _host(tmp_path)
    write_bundle(manifest, kernel, config_entries(etc), tmp_path / "b.tar")
    write_bundle(manifest, kernel, config_entries(etc), tmp_path / "dir")
    assert KEY.encode() not in (tmp_path / "b.tar").read_bytes()
    assert all(KEY.encode() not in p.read_bytes() for p in (tmp_path / "dir").rglob("*") if p.is_file())


def test_a_tar_bundle_is_reproducible(tmp_path: Path) -> None:
    manifest, kernel, etc = _host(tmp_path)
    write_bundle(manifest, kernel, config_entries(etc), tmp_path / "one.tar")
    (etc / "local.conf").touch()  # a newer time stamp changes nothing
    write_bundle(manifest, kernel, config_entries(etc), tmp_path / "two.tar")
    assert (tmp_path / "one.tar").read_bytes() == (tmp_path / "two.tar").read_bytes()
    with tarfile.open(tmp_path / "one.tar") as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names[0] == INDEX and names[1:] == sorted(names[1:])
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) for m in members} == {(0, 0, 0, "", "", 0o644)}
    # deduplicated: the two files, the kernel, the manifest and the two configuration files, once each
    assert len(names) == 1 + 6


def test_a_flipped_object_is_refused_naming_it(tmp_path: Path) -> None:
    manifest, kernel, etc = _host(tmp_path)
    write_bundle(manifest, kernel, config_entries(etc), tmp_path / "dir")
    obj = object_path(tmp_path / "dir", manifest.files[1].sha256 or "")
    data = bytearray(obj.read_bytes())
    data[0] ^= 0x01
    obj.write_bytes(bytes(data))
    with pytest.raises(UserError, match=r"/usr/bin/tool does not match its sha256.*tampered"):
        load_bundle(tmp_path / "dir", tmp_path / "work")


def test_a_changed_kernel_or_configuration_is_refused(tmp_path: Path) -> None:
    manifest, kernel, etc = _host(tmp_path)
    write_bundle(manifest, kernel, config_entries(etc), tmp_path / "dir")
    object_path(tmp_path / "dir", sha256_file(kernel)).write_bytes(b"MZ evil image!!")
    with pytest.raises(UserError, match=r"the kernel .*vmlinuz does not match its sha256"):
        load_bundle(tmp_path / "dir", tmp_path / "work")


def test_a_truncated_tar_is_refused(tmp_path: Path) -> None:
    manifest, kernel, etc = _host(tmp_path)
    tar = tmp_path / "b.tar"
    write_bundle(manifest, kernel, config_entries(etc), tar)
    data = tar.read_bytes()
    for size in (len(data) // 2, 700, 100):
        tar.write_bytes(data[:size])
        with pytest.raises(UserError, match=r"b\.tar (is not a complete tar file|lacks|is not a rearbuild bundle)"):
            load_bundle(tar, tmp_path / "work")


def test_a_tar_cut_at_a_member_boundary_is_refused_as_incomplete(tmp_path: Path) -> None:
    """tarfile reads such a file as a shorter valid archive: the missing end-of-archive marker gives it away."""
    manifest, kernel, etc = _host(tmp_path)
    tar = tmp_path / "b.tar"
    write_bundle(manifest, kernel, config_entries(etc), tar)
    with tarfile.open(tar) as t:
        boundaries = [member.offset for member in t.getmembers()][1:]
    data = tar.read_bytes()
    for cut in boundaries:
        tar.write_bytes(data[:cut])
        with pytest.raises(UserError, match=r"b\.tar is not a complete tar file \(it does not end with"):
            load_bundle(tar, tmp_path / "work")


def test_a_foreign_member_is_refused_before_it_is_written(tmp_path: Path) -> None:
    tar = tmp_path / "evil.tar"
    payload = tmp_path / "payload"
    payload.write_text("x")
    with tarfile.open(tar, "w") as t:
        t.add(payload, arcname="../escaped")
    with pytest.raises(UserError, match=r"'\.\./escaped', which is no part of a bundle"):
        load_bundle(tar, tmp_path / "work")
    assert not (tmp_path / "escaped").exists()


def test_another_format_version_is_refused(tmp_path: Path) -> None:
    manifest, kernel, etc = _host(tmp_path)
    write_bundle(manifest, kernel, config_entries(etc), tmp_path / "dir")
    index = tmp_path / "dir" / INDEX
    index.write_text(json.dumps(json.loads(index.read_text()) | {"version": 2}))
    with pytest.raises(UserError, match="format version 2, this rearbuild reads version 1"):
        load_bundle(tmp_path / "dir", tmp_path / "work")


def test_the_builder_decides_only_where_results_go(tmp_path: Path) -> None:
    manifest, _, _ = _host(tmp_path)
    assert host_settings(manifest) == {"OUTPUT": "ISO", "PROGS": ("a", "b")}


def test_host_hard_links_stay_one_file_and_equal_copies_stay_apart(tmp_path: Path) -> None:
    manifest, kernel, etc = _host(tmp_path)
    tool = Path(manifest.files[1].source or "")
    (tmp_path / "host" / "tool2").hardlink_to(tool)
    copy = tmp_path / "host" / "tool3"
    copy.write_bytes(tool.read_bytes())
    extra = [
        FileRecord(p, EntryKind.FILE, 0o755, str(s), size=10, sha256=sha256_file(tool))
        for p, s in (("/usr/bin/tool2", tmp_path / "host" / "tool2"), ("/usr/bin/tool3", copy))
    ]
    manifest = Manifest(**{**manifest.__dict__, "files": merge([*manifest.files, *extra])})
    write_bundle(manifest, kernel, config_entries(etc), tmp_path / "b.tar")
    bundle = load_bundle(tmp_path / "b.tar", tmp_path / "work")
    assert bundle.links == {"/usr/bin/tool": "/usr/bin/tool", "/usr/bin/tool2": "/usr/bin/tool"}


def test_links_between_different_files_are_refused(tmp_path: Path) -> None:
    manifest, kernel, etc = _host(tmp_path)
    write_bundle(manifest, kernel, config_entries(etc), tmp_path / "dir")
    index = tmp_path / "dir" / INDEX
    index.write_text(json.dumps(json.loads(index.read_text()) | {"links": [["/usr/bin/tool", "/usr/lib/libx.so"]]}))
    with pytest.raises(UserError, match="which are not files of one content"):
        load_bundle(tmp_path / "dir", tmp_path / "work")


def test_a_bundle_is_private_to_its_owner(tmp_path: Path) -> None:
    # The configuration in it may hold passwords (BACKUP_URL, ...): as the manifest, root only.
    manifest, kernel, etc = _host(tmp_path)
    write_bundle(manifest, kernel, config_entries(etc), tmp_path / "b.tar")
    write_bundle(manifest, kernel, config_entries(etc), tmp_path / "dir")
    assert (tmp_path / "b.tar").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "dir").stat().st_mode & 0o777 == 0o700


def test_the_hosts_copied_kernel_parameters_travel_with_the_bundle(tmp_path: Path) -> None:
    manifest, kernel, etc = _host(tmp_path)
    write_bundle(manifest, kernel, config_entries(etc), tmp_path / "b.tar", cmdline=("net.ifnames=0", "biosdevname=0"))
    bundle = load_bundle(tmp_path / "b.tar", tmp_path / "work")
    assert bundle.cmdline == ("net.ifnames=0", "biosdevname=0")


def test_the_configuration_is_keyed_by_its_contents_wherever_a_bundle_is_unpacked(tmp_path: Path) -> None:
    # The shared build cache keys initrd segments by what goes in: a bundle unpacked twice (two builds, new
    # inodes and times) must give the configuration segment the same key, so the second build reuses it.
    manifest, kernel, etc = _host(tmp_path)
    write_bundle(manifest, kernel, config_entries(etc), tmp_path / "b.tar")
    first = load_bundle(tmp_path / "b.tar", tmp_path / "work1")
    second = load_bundle(tmp_path / "b.tar", tmp_path / "work2")
    assert CpioArchive.plan(first.config, 0).fingerprint() == CpioArchive.plan(second.config, 0).fingerprint()
