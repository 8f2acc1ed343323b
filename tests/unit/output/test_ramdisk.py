"""OUTPUT=RAMDISK's names (ReaR's RAMDISK_SUFFIX) and copies."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from rearbuild.errors import UserError
from rearbuild.output.ramdisk import ramdisk_names, write_ramdisk


def test_names() -> None:
    assert ramdisk_names("node1") == ("kernel-node1", "initramfs-node1.img")
    assert ramdisk_names("") == ("kernel", "initrd.cgz")
    with pytest.raises(UserError, match="RAMDISK_SUFFIX='a b' must be one word"):
        ramdisk_names("a b")
    with pytest.raises(UserError, match="must be one word without /"):
        ramdisk_names("../x")


def test_copies_with_digests(tmp_path: Path) -> None:
    source = tmp_path / "vmlinuz"
    source.write_bytes(b"k")
    written = write_ramdisk({"kernel-n": source}, tmp_path / "out")
    assert (tmp_path / "out" / "kernel-n").read_bytes() == b"k"
    assert written == {tmp_path / "out" / "kernel-n": hashlib.sha256(b"k").hexdigest()}
