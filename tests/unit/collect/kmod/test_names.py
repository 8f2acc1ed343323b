"""Module names as libkmod compares them, and the names of module files."""

from __future__ import annotations

import pytest

from rearbuild.collect.kmod.names import module_codec, module_name, module_stem, normalize
from rearbuild.compression import Codec
from rearbuild.errors import UserError


def test_normalize_keeps_dashes_inside_brackets() -> None:
    assert normalize("dm-crypt") == "dm_crypt"
    assert normalize("pci:v*d[0-9]*-x") == "pci:v*d[0-9]*_x"


def test_module_files() -> None:
    assert module_name("kernel/drivers/md/dm-crypt.ko.xz") == "dm_crypt"
    assert module_codec("a/xfs.ko.zst") is Codec.ZSTD and module_codec("a/xfs.ko") is Codec.NONE
    with pytest.raises(UserError, match="not a kernel module file"):
        module_name("kernel/xfs.o")


def test_module_stem_of_any_member() -> None:
    assert module_stem("usr/lib/modules/6.1/kernel/fs/ext4/ext4.ko.zst") == "ext4"
    assert module_stem("kernel/drivers/virtio/virtio-pci.ko") == "virtio_pci"
    assert module_stem("etc/modules") is None
