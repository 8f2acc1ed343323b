"""Reading a restored system's initramfs and deciding whether to rebuild it, on a fake restored root."""

from __future__ import annotations

import gzip
import io
import lzma
import shutil
from pathlib import Path

import pytest

from rearbuild.build.cpio import Entry, write_cpio
from rearbuild.layout.model import Layout
from rearbuild.recover.bootloader import Firmware, plan_boot
from rearbuild.recover.initramfs import RebuildChoice, decide, has_module, installed, members, rebuild_command

EPOCH = 1_700_000_000
KVER = "6.1.0-test"


def cpio(*paths: str) -> bytes:
    buf = io.BytesIO()
    write_cpio([Entry.from_bytes(p, b"x") for p in paths], buf, EPOCH)
    return buf.getvalue()


def make_root(
    tmp_path: Path,
    initramfs: bytes,
    *,
    builtin: tuple[str, ...] = (),
    os_id: str = "debian",
    tool: str | None = "usr/sbin/update-initramfs",
) -> Path:
    root = tmp_path / "root"
    (root / "boot").mkdir(parents=True)
    (root / "boot" / f"vmlinuz-{KVER}").write_bytes(b"kernel")
    (root / "boot" / f"initrd.img-{KVER}").write_bytes(initramfs)
    moddir = root / "lib/modules" / KVER
    moddir.mkdir(parents=True)
    (moddir / "modules.builtin").write_text("".join(f"kernel/{b}.ko\n" for b in builtin))
    (root / "etc").mkdir()
    (root / "etc/os-release").write_text(f'ID={os_id}\nPRETTY_NAME="Test"\n')
    if tool:
        (root / tool).parent.mkdir(parents=True, exist_ok=True)
        (root / tool).write_text("#!/bin/sh\n")
    return root


# An early (uncompressed) microcode archive followed by a compressed main archive, as update-initramfs writes.
def initramfs(*paths: str, compress: str = "gzip") -> bytes:
    main = cpio(*paths)
    packed = gzip.compress(main) if compress == "gzip" else lzma.compress(main, check=lzma.CHECK_CRC32)
    return cpio("kernel/x86/microcode/GenuineIntel.bin") + packed


def test_members_of_concatenated_plain_and_compressed_archives(tmp_path: Path) -> None:
    for compress in ("gzip", "xz"):
        path = tmp_path / f"initrd.{compress}"
        path.write_bytes(initramfs("usr/lib/modules/x/kernel/drivers/md/dm-crypt.ko.zst", "init", compress=compress))
        found = members(path)
        assert {"init", "kernel/x86/microcode/GenuineIntel.bin"} <= found
        assert has_module(found, "dm_crypt") and has_module(found, "dm-crypt")
        assert not has_module(found, "dm_mod")


def test_module_present_or_builtin_keeps_it(tmp_path: Path) -> None:
    root = make_root(tmp_path, initramfs("lib/modules/m/kernel/fs/xfs/xfs.ko"), builtin=("fs/ext4/ext4",))
    [decision] = decide(root, RebuildChoice.AUTO, migration=False, identities_changed=False, needed={"xfs", "ext4"})
    assert decision.initramfs == installed(root)[0]
    assert not decision.rebuild and decision.reasons == () and decision.command is None


def test_missing_module_and_settings_give_reasons_and_a_command(tmp_path: Path) -> None:
    root = make_root(tmp_path, initramfs("lib/modules/m/kernel/fs/xfs/xfs.ko"))
    [decision] = decide(root, RebuildChoice.YES, migration=True, identities_changed=True, needed={"xfs", "virtio-blk"})
    assert decision.reasons == (
        "REBUILD_INITRAMFS=y",
        "migration mode",
        "device names or UUIDs changed",
        "it lacks virtio-blk needed for / on this hardware",
    )
    assert decision.command == ("chroot", str(root), "update-initramfs", "-u", "-k", KVER)


def test_no_means_nothing_and_unreadable_is_a_reason(tmp_path: Path) -> None:
    root = make_root(tmp_path, b"\x01\x02 not an initramfs", tool=None, os_id="arch")
    assert decide(root, RebuildChoice.NO, migration=True, identities_changed=True, needed={"xfs"}) == ()
    [decision] = decide(root, RebuildChoice.AUTO, migration=False, identities_changed=False, needed={"xfs"})
    assert decision.rebuild and decision.reasons[0].startswith(f"cannot read initrd.img-{KVER}")
    assert decision.command is None  # neither update-initramfs nor dracut


def test_dracut_command(tmp_path: Path) -> None:
    root = make_root(tmp_path, b"", os_id="fedora", tool="usr/bin/dracut")
    assert rebuild_command(root, KVER) == ("chroot", str(root), "dracut", "-f", f"/boot/initramfs-{KVER}.img", KVER)


@pytest.mark.parametrize(
    ("answer", "choice"), [(True, RebuildChoice.YES), (False, RebuildChoice.NO), (None, RebuildChoice.AUTO)]
)
def test_rebuild_choice(answer: bool | None, choice: RebuildChoice) -> None:
    # REBUILD_INITRAMFS is read with Config.tristate: yes, no, or empty for "when needed"
    assert RebuildChoice.of(answer) is choice


def test_links_of_the_restored_system_are_read_inside_it(tmp_path: Path) -> None:
    """boot -> <elsewhere> and usr -> <elsewhere> (absolute) name the restored system's own <elsewhere>: the
    kernels, initramfs and tools of the rescue system at the real <elsewhere> are not the restored system's."""
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "sbin").mkdir(parents=True)
    (elsewhere / f"vmlinuz-{KVER}").write_bytes(b"kernel")
    (elsewhere / f"initrd.img-{KVER}").write_bytes(cpio("init"))
    (elsewhere / "sbin/update-initramfs").write_text("#!/bin/sh\n")
    (elsewhere / "os-release").write_text("ID=debian\n")
    root = tmp_path / "root"
    root.mkdir()
    for name in ("boot", "usr", "etc"):
        (root / name).symlink_to(elsewhere)
    assert installed(root) == []
    assert rebuild_command(root, KVER) is None
    assert plan_boot(Layout(), root, firmware=Firmware.BIOS).grub_install is None
    inside = root / str(elsewhere).lstrip("/")  # where they are in the restored system
    shutil.copytree(elsewhere, inside)
    assert [i.path for i in installed(root)] == [inside / f"initrd.img-{KVER}"]
    assert rebuild_command(root, KVER) == ("chroot", str(root), "update-initramfs", "-u", "-k", KVER)
    assert plan_boot(Layout(), root, firmware=Firmware.BIOS).grub_install is None  # usr/sbin/grub-install: none
    (inside / "sbin/grub-install").write_text("#!/bin/sh\n")
    assert plan_boot(Layout(), root, firmware=Firmware.BIOS).grub_install == "/usr/sbin/grub-install"
