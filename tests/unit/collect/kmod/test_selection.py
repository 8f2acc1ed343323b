"""Module selection by MODULES, MODULES_LOAD and EXCLUDE_MODULES."""

from __future__ import annotations

from pathlib import Path

import pytest

from rearbuild.collect.kmod.index import ModuleIndex, load_order
from rearbuild.collect.kmod.selection import ModuleClass, ReasonKind, loaded_modules, select_modules
from rearbuild.errors import UserError
from tests.unit.collect.kmod.tree import KVER


def test_closure_records_why_each_module_is_there(tree: Path) -> None:
    index = ModuleIndex.load(tree, KVER)
    selection = select_modules(index, ["ext4", "dm-crypt"])
    reasons = {name: str(reason) for name, reason in selection.modules.items()}
    assert reasons == {
        "ext4": "named in MODULES",
        "dm_crypt": "named in MODULES",
        "crc16": "dependency of ext4",
        "jbd2": "dependency of ext4",
        "crc32c_generic": "softdep (pre) of ext4",
        "dm_mod": "dependency of dm_crypt",
        "post": "softdep (post) of dm_crypt",
    }
    assert "crc32c_builtin" not in selection.modules  # builtin: nothing to copy, not an error


def test_dash_and_underscore_and_aliases_name_the_same_module(tree: Path) -> None:
    index = ModuleIndex.load(tree, KVER)
    for name in ("dm-crypt", "dm_crypt"):
        assert select_modules(index, [name]).modules.keys() == {"dm_crypt", "dm_mod", "post"}
    assert "ext4" in select_modules(index, ["fs-ext4"]).modules
    assert index.lookup("pci:v00008086d000010D3sv00008086sd0000A01Fbc01sc06i01") == ("nic",)


def test_builtin_module_named_explicitly_is_fine(tree: Path) -> None:
    index = ModuleIndex.load(tree, KVER)
    assert dict(select_modules(index, ["unix"]).modules) == {}
    assert load_order(index, ["unix"]) == ()


def test_missing_module_is_a_user_error_naming_it(tree: Path) -> None:
    index = ModuleIndex.load(tree, KVER)
    with pytest.raises(UserError) as error:
        select_modules(index, ["ext4", "nosuchmod", "other-missing"])
    assert "nosuchmod, other-missing" in error.value.message
    assert KVER in error.value.message and "not built in" in error.value.message
    assert error.value.hint is not None and "modinfo" in error.value.hint
    with pytest.raises(UserError, match="MODULES_LOAD"):
        select_modules(index, [], modules_load=["nosuchmod"])


def test_default_selection_takes_classes_loaded_and_fixed_modules(tree: Path) -> None:
    (tree / "proc").mkdir()
    (tree / "proc/modules").write_text("dm_mod 184320 1 dm_crypt, Live 0x0000000000000000\n")
    index = ModuleIndex.load(tree, KVER)
    selection = select_modules(index, [], loaded=loaded_modules(tree))
    chosen = {name: reason.kind for name, reason in selection.modules.items()}
    assert chosen["dm_mod"] is ReasonKind.LOADED
    assert chosen["ext4"] is ReasonKind.CLASS and str(selection.modules["ext4"]) == "file system driver"
    assert chosen["nic"] is ReasonKind.CLASS and chosen["wlan"] is ReasonKind.CLASS
    assert chosen["dm_crypt"] is ReasonKind.CLASS  # drivers/md is storage
    assert chosen["uhci_hcd"] is ReasonKind.CLASS
    assert chosen["post"] is ReasonKind.SOFTDEP_POST
    assert "beep" not in chosen  # sound is in no class
    assert ModuleClass.STORAGE.matches("kernel/drivers/nvme/host/nvme.ko")
    assert not ModuleClass.STORAGE.matches("kernel/sound/beep.ko")


def test_all_no_modules_and_exclusion(tree: Path) -> None:
    index = ModuleIndex.load(tree, KVER)
    everything = select_modules(index, ["all_modules"], exclude=["scsi_debug"])
    assert len(everything.modules) == len(index.paths) - 1 and everything.excluded == ("scsi_debug",)
    assert dict(select_modules(index, ["no_modules"]).modules) == {}
    with pytest.raises(UserError, match="no_modules"):
        select_modules(index, ["no_modules"], modules_load=["ext4"])
    # an excluded dependency is left out, and not pulled in again by a softdep
    selection = select_modules(index, ["ext4"], exclude=["crc32c*"])
    assert "crc32c_generic" not in selection.modules and selection.excluded == ("crc32c_generic",)
