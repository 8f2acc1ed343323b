from __future__ import annotations

import io
import os
import random
from pathlib import Path

import pytest

from rearbuild.build.cpio import CpioArchive, Entry, Kind, write_cpio
from rearbuild.build.initrd import tree_entries
from rearbuild.errors import InternalError, UserError

EPOCH = 1_700_000_000


def parse(data: bytes) -> list[dict[str, object]]:
    """An independent newc reader (straight from buffer-format.rst) for checking what was written."""
    out: list[dict[str, object]] = []
    pos = 0
    names = (
        "ino",
        "mode",
        "uid",
        "gid",
        "nlink",
        "mtime",
        "filesize",
        "maj",
        "min",
        "rmaj",
        "rmin",
        "namesize",
    )
    while True:
        assert data[pos : pos + 6] == b"070701", f"bad magic at {pos}"
        fields = {n: int(data[pos + 6 + 8 * i : pos + 14 + 8 * i], 16) for i, n in enumerate(names)}
        name_end = pos + 110 + fields["namesize"]
        name = data[pos + 110 : name_end - 1].decode()
        pos = name_end + (-name_end % 4)
        body = data[pos : pos + fields["filesize"]]
        pos += fields["filesize"] + (-fields["filesize"] % 4)
        if name == "TRAILER!!!":
            assert len(data) % 512 == 0 and not data[pos:].strip(b"\0")
            return out
        out.append({"name": name, "data": body, **fields})


def write(entries: list[Entry], epoch: int = EPOCH) -> bytes:
    buf = io.BytesIO()
    length = write_cpio(entries, buf, epoch)
    assert length == len(buf.getvalue())
    return buf.getvalue()


def test_header_bytes_of_a_known_entry() -> None:
    data = write([Entry.from_bytes("init", b"#!/bin/sh\n", 0o755)])
    header = (
        b"070701"
        b"00000001"  # ino
        b"000081ED"  # S_IFREG | 0755
        b"00000000"  # uid
        b"00000000"  # gid
        b"00000001"  # nlink
        b"6553F100"  # mtime 1700000000
        b"0000000A"  # filesize 10
        b"00000000"
        b"00000000"
        b"00000000"
        b"00000000"
        b"00000005"  # "init\0"
        b"00000000"
    )
    # 110 + 5 = 115 -> 1 byte of name padding; 10 bytes of data -> 2 bytes of padding.
    assert data.startswith(header + b"init\0" + b"\0" + b"#!/bin/sh\n" + b"\0\0" + b"070701")
    assert len(data) == 512


def test_sorted_by_path_bytes_with_implicit_parents_first() -> None:
    entries = [
        Entry.from_bytes("usr/bin/b", b"b"),
        Entry.from_bytes("usr-x", b"x"),
        Entry.directory("usr/lib", 0o700),
        Entry.from_bytes("usr/bin/a", b"a"),
    ]
    records = parse(write(entries))
    assert [r["name"] for r in records] == ["usr", "usr-x", "usr/bin", "usr/bin/a", "usr/bin/b", "usr/lib"]
    modes = {r["name"]: r["mode"] for r in records}
    assert modes["usr"] == modes["usr/bin"] == 0o40755
    assert modes["usr/lib"] == 0o40700
    assert [r["ino"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert all(r["uid"] == r["gid"] == 0 and r["mtime"] == EPOCH for r in records)


def test_mtime_is_clamped_to_the_epoch() -> None:
    old = Entry("old", Kind.FILE, 0o644, data=b"", mtime=EPOCH - 10)
    new = Entry("new", Kind.FILE, 0o644, data=b"", mtime=EPOCH + 10)
    records = {r["name"]: r["mtime"] for r in parse(write([old, new]))}
    assert records == {"old": EPOCH - 10, "new": EPOCH}


def test_same_entries_in_any_order_give_identical_bytes(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"payload" * 1000)
    entries = [
        Entry.file("usr/share/f", tmp_path / "f"),
        Entry.symlink("bin", "usr/bin"),
        Entry.device("dev/null", Kind.CHAR_DEVICE, 1, 3, 0o666),
        Entry.from_bytes("etc/hostname", b"rescue\n"),
        Entry.directory("tmp", 0o1777),
        Entry.fifo("run/initctl"),
    ]
    reference = write(entries)
    for seed in range(5):
        shuffled = entries[:]
        random.Random(seed).shuffle(shuffled)
        assert write(shuffled) == reference
    assert write(entries, EPOCH + 1) != reference


def test_hardlinks_share_an_inode_and_carry_data_once(tmp_path: Path) -> None:
    (tmp_path / "one").write_bytes(b"same inode")
    os.link(tmp_path / "one", tmp_path / "two")
    entries = [
        Entry.file("bin/two", tmp_path / "two", 0o755),
        Entry.file("bin/one", tmp_path / "one", 0o755),
        Entry.from_bytes("a", b"marked", link_group="g"),
        Entry.from_bytes("b", b"marked", link_group="g"),
        Entry.from_bytes("c", b"marked"),
    ]
    records = {r["name"]: r for r in parse(write(entries))}
    one, two = records["bin/one"], records["bin/two"]
    assert one["ino"] == two["ino"] and one["nlink"] == two["nlink"] == 2
    assert (one["data"], two["data"]) == (b"", b"same inode")  # data on the last name only
    assert records["a"]["ino"] == records["b"]["ino"] != records["c"]["ino"]
    assert (records["a"]["data"], records["b"]["data"], records["c"]["data"]) == (b"", b"marked", b"marked")
    assert records["c"]["nlink"] == 1
    assert len({r["ino"] for r in records.values()}) == len(records) - 2  # inodes stay dense


def test_device_nodes_and_fifo_need_no_root() -> None:
    entries = [
        Entry.device("dev/console", Kind.CHAR_DEVICE, 5, 1),
        Entry.device("dev/vda", Kind.BLOCK_DEVICE, 254, 0, 0o660),
        Entry.fifo("run/fifo", 0o644),
    ]
    records = {r["name"]: r for r in parse(write(entries))}
    assert (
        records["dev/console"]["mode"],
        records["dev/console"]["rmaj"],
        records["dev/console"]["rmin"],
    ) == (
        0o20600,
        5,
        1,
    )
    assert (records["dev/vda"]["mode"], records["dev/vda"]["rmaj"]) == (0o60660, 254)
    assert records["run/fifo"]["mode"] == 0o10644


def test_symlink_stores_its_target_as_data() -> None:
    (record,) = parse(write([Entry.symlink("sh", "busybox")]))
    assert record["mode"] == 0o120777 and record["data"] == b"busybox" and record["filesize"] == 7


def test_duplicate_path_with_different_content_is_a_bug() -> None:
    same = Entry.from_bytes("etc/x", b"1")
    assert len(parse(write([same, same]))) == 2  # an identical duplicate is harmless
    with pytest.raises(InternalError, match="etc/x"):
        write([same, Entry.from_bytes("etc/x", b"2")])


def test_a_file_with_children_is_a_bug() -> None:
    with pytest.raises(InternalError, match="has children"):
        write([Entry.from_bytes("etc", b""), Entry.from_bytes("etc/x", b"")])


@pytest.mark.parametrize("path", ["/etc/x", "etc/../x", "etc//x", "", "etc/."])
def test_unnormalized_paths_are_refused(path: str) -> None:
    with pytest.raises(InternalError):
        Entry.from_bytes(path, b"")


def test_a_vanished_source_is_a_user_error_naming_it(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    with pytest.raises(UserError, match=str(gone)):
        write([Entry.file("usr/gone", gone)])
    # Planned while it existed, deleted before writing (size known from the manifest).
    gone.write_bytes(b"data")
    archive = CpioArchive.plan([Entry.file("usr/gone", gone)], EPOCH)
    gone.unlink()
    with pytest.raises(UserError, match=f"{gone}.*vanished"):
        archive.write(io.BytesIO())


def test_a_source_that_changed_size_or_content_is_a_user_error(tmp_path: Path) -> None:
    source = tmp_path / "f"
    source.write_bytes(b"12345")
    with pytest.raises(UserError, match="grew"):
        write([Entry.file("f", source, size=3)])
    with pytest.raises(UserError, match="shrank"):
        write([Entry.file("f", source, size=9)])
    with pytest.raises(UserError, match="sha256"):
        write([Entry.file("f", source, size=5, sha256="0" * 64)])


def test_fingerprint_follows_contents_not_reading(tmp_path: Path) -> None:
    source = tmp_path / "f"
    source.write_bytes(b"abc")
    known = Entry.file("f", source, sha256="a" * 64, size=3)
    first = CpioArchive.plan([known], EPOCH).fingerprint()
    source.unlink()  # a known sha256 is enough: nothing is opened or stat()ed
    assert CpioArchive.plan([known], EPOCH).fingerprint() == first
    changed = Entry.file("f", source, sha256="b" * 64, size=3)
    assert CpioArchive.plan([changed], EPOCH).fingerprint() != first
    assert CpioArchive.plan([known], EPOCH + 1).fingerprint() != first


def test_tree_entries_mirror_a_directory(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"x")
    (tmp_path / "d" / "f").chmod(0o750)
    (tmp_path / "l").symlink_to("d/f")
    entries = {e.path: e for e in tree_entries(tmp_path, "/lib/")}
    assert set(entries) == {"lib/d", "lib/d/f", "lib/l"}
    assert entries["lib/d/f"].mode == 0o750 and entries["lib/l"].target == "d/f"
