"""Module lookup, softdeps and probe order read from the module indexes."""

from __future__ import annotations

from pathlib import Path

import pytest

from rearbuild.collect.kmod.index import ModuleIndex, load_order
from rearbuild.errors import UserError
from tests.unit.collect.kmod.tree import KVER, files, make_tree


def test_dependencies_come_first_and_softdep_pre_before_post_after(tree: Path) -> None:
    index = ModuleIndex.load(tree, KVER)
    assert files(index, index.probe_list("ext4")) == [
        "crc32c_generic.ko",  # softdep pre of jbd2 (a dependency); builtin crc32c_builtin needs no insmod
        "jbd2.ko",
        "crc16.ko",
        "ext4.ko",  # its own pre: crypto-crc32c was already visited
    ]
    assert files(index, load_order(index, ["dm_crypt"])) == ["dm-mod.ko", "dm-crypt.ko", "post.ko"]


def test_first_softdep_entry_wins_and_modprobe_d_sorts_with_modules_softdep(tree: Path) -> None:
    index = ModuleIndex.load(tree, KVER)
    assert "post" not in index.probe_list("ext4")  # the second `softdep ext4` line is ignored
    config = tree / "etc/modprobe.d"
    config.mkdir(parents=True)
    (config / "aliases.conf").write_text("softdep uhci-hcd pre: ehci-hcd\n")  # sorts before modules.softdep
    (config / "zz.conf").write_text("softdep dm-crypt pre: crc16\n")  # sorts after: loses
    index = ModuleIndex.load(tree, KVER)
    assert files(index, load_order(index, ["uhci-hcd"])) == ["ehci-hcd.ko", "uhci-hcd.ko"]
    assert files(index, load_order(index, ["dm_crypt"])) == ["dm-mod.ko", "dm-crypt.ko", "post.ko"]


def test_missing_modules_dep_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"modules\.dep does not exist"):
        ModuleIndex.load(tmp_path, KVER)


def test_softdeps_from_modinfo_when_there_is_no_modules_softdep(tmp_path: Path) -> None:
    moddir = make_tree(
        tmp_path,
        {"kernel/fs/a.ko": ([], ["softdep=pre: b post: c"]), "kernel/fs/b.ko": ([], []), "kernel/fs/c.ko": ([], [])},
    )
    (moddir / "modules.softdep").unlink()
    index = ModuleIndex.load(tmp_path, KVER)
    assert index.softdeps_from_modinfo
    assert index.probe_list("a") == ["b", "a", "c"]
