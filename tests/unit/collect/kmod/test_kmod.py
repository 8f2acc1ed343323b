"""Module selection, load order and firmware on a synthetic modules tree (no kmod tools needed)."""

from __future__ import annotations

import gzip
import lzma
import struct
from pathlib import Path

import pytest

from rearbuild.collect.kernel import KernelImage, bzimage_version, find_kernel, kernel_version
from rearbuild.collect.kmod.firmware import FirmwareMode, collect_firmware, module_firmware
from rearbuild.collect.kmod.index import ModuleIndex, load_order
from rearbuild.collect.kmod.modinfo import read_modinfo
from rearbuild.collect.kmod.names import module_name
from rearbuild.collect.kmod.selection import ModuleClass, ReasonKind, loaded_modules, select_modules
from rearbuild.errors import UserError

KVER = "6.1.0-test"


def fake_module(modinfo: list[str]) -> bytes:
    """A minimal ELF64 relocatable file with a .shstrtab and a .modinfo section."""
    info = b"".join(entry.encode() + b"\0" for entry in modinfo)
    names = b"\0.shstrtab\0.modinfo\0"
    info_offset = 64
    names_offset = info_offset + len(info)
    shoff = (names_offset + len(names) + 7) & ~7
    # e_ident, e_type=ET_REL, e_machine=EM_X86_64, e_version, e_entry, e_phoff, e_shoff, e_flags,
    # e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx
    header = struct.pack("<4sBBBB8xHHIQQQIHHHHHH", b"\x7fELF", 2, 1, 1, 0, 1, 62, 1, 0, 0, shoff, 0, 64, 0, 0, 64, 3, 1)
    body = header + info + names
    body += b"\0" * (shoff - len(body))
    section = struct.Struct("<IIQQQQIIQQ")
    body += b"\0" * section.size
    body += section.pack(1, 3, 0, 0, names_offset, len(names), 0, 0, 1, 0)  # .shstrtab, SHT_STRTAB
    body += section.pack(11, 1, 0, 0, info_offset, len(info), 0, 0, 1, 0)  # .modinfo, SHT_PROGBITS
    return body


def make_tree(
    root: Path,
    modules: dict[str, tuple[list[str], list[str]]],
    *,
    softdep: str = "",
    builtin: tuple[str, ...] = (),
    alias: str = "",
) -> Path:
    """root/lib/modules/KVER with modules {relpath: (dependency relpaths, modinfo entries)}."""
    moddir = root / "lib/modules" / KVER
    lines = []
    for relpath, (deps, info) in modules.items():
        path = moddir / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        data = fake_module([f"name={module_name(relpath)}", *info])
        if relpath.endswith(".xz"):
            data = lzma.compress(data, check=lzma.CHECK_CRC32)
        elif relpath.endswith(".gz"):
            data = gzip.compress(data)
        path.write_bytes(data)
        lines.append(f"{relpath}: {' '.join(deps)}".rstrip(" ") + "\n")
    (moddir / "modules.dep").write_text("".join(lines))
    (moddir / "modules.order").write_text("".join(f"{p}\n" for p in modules))
    (moddir / "modules.builtin").write_text("".join(f"kernel/{b}.ko\n" for b in builtin))
    (moddir / "modules.alias").write_text(alias)
    if softdep is not None:
        (moddir / "modules.softdep").write_text(softdep)
    return moddir


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    make_tree(
        tmp_path,
        {
            "kernel/fs/ext4/ext4.ko": (["kernel/lib/crc16.ko", "kernel/fs/jbd2/jbd2.ko"], []),
            "kernel/fs/jbd2/jbd2.ko": ([], []),
            "kernel/lib/crc16.ko": ([], []),
            "kernel/crypto/crc32c_generic.ko": ([], []),
            "kernel/drivers/md/dm-crypt.ko": (["kernel/drivers/md/dm-mod.ko"], []),
            "kernel/drivers/md/dm-mod.ko": ([], []),
            "kernel/drivers/net/wifi/wlan.ko.xz": ([], ["firmware=vendor/wlan.bin", "firmware=vendor/gone.bin"]),
            "kernel/drivers/net/nic.ko.gz": ([], ["firmware=nic/fw.bin"]),
            "kernel/sound/beep.ko": ([], ["firmware=beep.fw"]),
            "kernel/drivers/usb/host/uhci-hcd.ko": ([], []),
            "kernel/drivers/usb/host/ehci-hcd.ko": ([], []),
            "kernel/drivers/usb/host/ehci-pci.ko": (["kernel/drivers/usb/host/ehci-hcd.ko"], []),
            "kernel/misc/post.ko": ([], []),
            "kernel/misc/scsi_debug.ko": ([], []),
        },
        softdep=(
            "softdep ext4 pre: crypto-crc32c\n"
            "softdep jbd2 pre: crypto-crc32c\n"
            "softdep ext4 pre: post\n"  # a second entry for ext4: libkmod takes only the first
            "softdep dm_crypt post: post\n"
            "softdep uhci_hcd pre: ehci_pci\n"
        ),
        builtin=("crc32c_builtin", "unix"),
        alias="alias crypto-crc32c crc32c_generic\nalias crypto-crc32c crc32c_builtin\nalias fs-ext4 ext4\n"
        "alias pci:v00008086d*sv*sd*bc01sc06i* nic\n",
    )
    return tmp_path


def files(index: ModuleIndex, names: list[str] | tuple[str, ...]) -> list[str]:
    return [index.paths[n].rsplit("/", 1)[-1] for n in names if n in index.paths]


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


def test_missing_modules_dep_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"modules\.dep does not exist"):
        ModuleIndex.load(tmp_path, KVER)


def test_corrupt_module_is_a_user_error(tree: Path) -> None:
    path = tree / "lib/modules" / KVER / "kernel/misc/post.ko"
    path.write_bytes(b"not an elf file at all, but long enough to have a header" * 2)
    with pytest.raises(UserError, match=r"post\.ko: not an ELF file"):
        read_modinfo(path)


def test_compressed_modules_modinfo(tree: Path) -> None:
    moddir = tree / "lib/modules" / KVER
    xz = read_modinfo(moddir / "kernel/drivers/net/wifi/wlan.ko.xz")
    assert xz.get("firmware") == ("vendor/wlan.bin", "vendor/gone.bin")
    assert xz.get("name") == ("wlan",)
    assert read_modinfo(moddir / "kernel/drivers/net/nic.ko.gz").get("firmware") == ("nic/fw.bin",)


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


def test_softdeps_from_modinfo_when_there_is_no_modules_softdep(tmp_path: Path) -> None:
    moddir = make_tree(
        tmp_path,
        {"kernel/fs/a.ko": ([], ["softdep=pre: b post: c"]), "kernel/fs/b.ko": ([], []), "kernel/fs/c.ko": ([], [])},
    )
    (moddir / "modules.softdep").unlink()
    index = ModuleIndex.load(tmp_path, KVER)
    assert index.softdeps_from_modinfo
    assert index.probe_list("a") == ["b", "a", "c"]


def test_firmware_present_missing_compressed_and_symlinked(tree: Path) -> None:
    firmware = tree / "lib/firmware"
    (firmware / "vendor").mkdir(parents=True)
    (firmware / "vendor/wlan-1.2.bin.xz").write_bytes(b"xz firmware")
    (firmware / "vendor/wlan.bin.xz").symlink_to("wlan-1.2.bin.xz")  # how linux-firmware ships versions
    (firmware / "nic").mkdir()
    (firmware / "nic/fw.bin").write_bytes(b"fw")
    (firmware / "unrelated.bin").write_bytes(b"other")
    index = ModuleIndex.load(tree, KVER)
    wanted = module_firmware(index, ["wlan", "nic", "ext4"])
    assert wanted == {"nic/fw.bin": ("nic",), "vendor/gone.bin": ("wlan",), "vendor/wlan.bin": ("wlan",)}

    found, missing = collect_firmware(tree, KVER, wanted)
    by_target = {str(f.target): f for f in found}
    assert set(by_target) == {
        "lib/firmware/nic/fw.bin",
        "lib/firmware/vendor/wlan.bin.xz",
        "lib/firmware/vendor/wlan-1.2.bin.xz",
    }
    assert by_target["lib/firmware/vendor/wlan.bin.xz"].link == "wlan-1.2.bin.xz"
    assert by_target["lib/firmware/vendor/wlan-1.2.bin.xz"].link is None
    assert by_target["lib/firmware/nic/fw.bin"].needed_by == ("nic",)
    assert [(m.name, m.needed_by) for m in missing] == [("vendor/gone.bin", ("wlan",))]


def test_firmware_files_modes(tree: Path) -> None:
    firmware = tree / "lib/firmware"
    (firmware / "nic").mkdir(parents=True)
    (firmware / "nic/fw.bin").write_bytes(b"fw")
    (firmware / "Intel").mkdir()
    (firmware / "Intel/ibt.sfi").write_bytes(b"bt")
    wanted = {"nic/fw.bin": ("nic",)}

    def targets(mode: list[str]) -> set[str]:
        return {str(f.target) for f in collect_firmware(tree, KVER, wanted, mode)[0]}

    assert FirmwareMode.of([]) is FirmwareMode.MODULES and targets([]) == {"lib/firmware/nic/fw.bin"}
    assert FirmwareMode.of(["yes"]) is FirmwareMode.ALL
    assert targets(["yes"]) == {"lib/firmware/nic/fw.bin", "lib/firmware/Intel/ibt.sfi"}
    assert FirmwareMode.of(["no"]) is FirmwareMode.NONE and targets(["no"]) == set()
    assert targets(["*/intel/*"]) == {"lib/firmware/Intel/ibt.sfi"}  # -ipath: case-insensitive


def test_kernel_found_by_versioned_name_and_errors_name_installed_versions(tmp_path: Path) -> None:
    (tmp_path / "boot").mkdir()
    with pytest.raises(UserError) as error:
        kernel_version(tmp_path, None)
    assert "no modules tree" in error.value.message and "no kernel modules are installed" in error.value.message
    make_tree(tmp_path, {"kernel/fs/a.ko": ([], [])})
    with pytest.raises(UserError) as error:
        kernel_version(tmp_path, None)  # the running kernel is not KVER
    assert "the running kernel" in error.value.message and f"installed kernel versions: {KVER}" in error.value.message
    assert error.value.hint is not None and f"-r {KVER}" in error.value.hint
    assert kernel_version(tmp_path, KVER) == KVER
    with pytest.raises(UserError, match="no kernel image found"):
        find_kernel(tmp_path, KVER)
    (tmp_path / f"boot/vmlinuz-{KVER}").write_bytes(b"kernel")
    assert find_kernel(tmp_path, KVER) == KernelImage(KVER, tmp_path / f"boot/vmlinuz-{KVER}")
    with pytest.raises(UserError, match="KERNEL_FILE"):
        find_kernel(tmp_path, KVER, Path("/boot/nonexistent"))


def test_unversioned_kernel_name_is_matched_by_its_embedded_version(tmp_path: Path) -> None:
    # x86 boot protocol: "HdrS" at 0x202, protocol 2.15 at 0x206, kernel_version pointer at 0x20E
    image = bytearray(0x400)
    struct.pack_into("<4sH6xH", image, 0x202, b"HdrS", 0x20F, 0x100)
    image[0x300 : 0x300 + 40] = f"{KVER} (debian-kernel@lists.debian.org)\0".encode()[:40]
    (tmp_path / "boot").mkdir()
    (tmp_path / "boot/vmlinuz-linux").write_bytes(bytes(image))
    assert bzimage_version(tmp_path / "boot/vmlinuz-linux") == KVER
    assert find_kernel(tmp_path, KVER).path == tmp_path / "boot/vmlinuz-linux"
    with pytest.raises(UserError):
        find_kernel(tmp_path, "5.10.0-other")
