"""Bootable GPT disks — a USB stick, a disk image file (OUTPUT=USB without a device), a RAWDISK image — written
without root and without mounting: the partition table by sfdisk (on a file or a device), FAT by mkfs.fat
--offset + mtools `DISK@@OFFSET`, ext2/3/4 by `mke2fs -E offset= -d DIR`. BIOS and UEFI boot the same GRUB
menu:

- BIOS: GRUB's boot.img in the MBR's code area and core.img (grub-mkimage -O i386-pc, every module built in,
  the early configuration embedded) in the BIOS boot partition, patched with their sector numbers as
  grub-bios-setup does (grub-core/boot/i386/pc/boot.S, diskboot.S; util/setup.c).
- UEFI: an ESP with EFI/BOOT/BOOTX64.EFI (rearbuild.output.bootloader.EfiLoader: a standalone GRUB, or the
  signed shim + GRUB for Secure Boot).

Both GRUBs find the file system with the menu by a marker file only this medium carries (like the ISO), never by
a device name. Reproducible: every GUID, UUID, serial and hash seed comes from the seed, every date from epoch.
"""

from __future__ import annotations

import datetime
import enum
import json
import os
import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rearbuild.errors import UserError
from rearbuild.output.pinned import derive_bytes
from rearbuild.run import run

SECTOR = 512
MIB = 2**20
# ReaR's format workflow starts the BIOS boot partition at byte 24576 (format/USB/default/300_format_usb_disk.sh),
# right after the 34 sectors of the primary GPT (UEFI 2.10 §5.3.1: LBA 1 header + 32 sectors of entries).
BIOS_BOOT_START = 24576
# The backup GPT takes the last 33 sectors (UEFI 2.10 §5.3.1).
GPT_BACKUP_BYTES = 33 * SECTOR
GRUB_PC_DIR = Path("/usr/lib/grub/i386-pc")
# grub-core/boot/i386/pc/boot.S and include/grub/i386/pc/boot.h (GRUB 2.06):
BOOT_BPB = (0x03, 0x5A)  # the BIOS parameter block grub-bios-setup keeps from the disk
BOOT_KERNEL_SECTOR = 0x5C  # u64: the LBA of core.img's first sector
BOOT_DRIVE_CHECK = 0x66  # 2-byte jump replaced by two NOPs on hard disks (setup.c, buggy-BIOS workaround)
MBR_CODE_END = 0x1B8  # disk signature and partition table follow; kept from the disk
BLOCKLIST = SECTOR - 12  # diskboot.S: {u64 start, u16 len, u16 segment} at the end of core.img's first sector
# Built into the BIOS core.img: reading the disk (biosdisk, part_gpt), the file systems of the medium, and every
# command the menus use (the same list as the EFI GRUB's).
GRUB_PC_MODULES = (
    "biosdisk", "configfile", "echo", "ext2", "fat", "halt", "linux", "normal", "part_gpt", "part_msdos",
    "reboot", "search", "search_fs_file", "search_label", "serial", "sleep", "terminal", "test",
)  # fmt: skip
_GRUB_HINT = "apt-get install grub-pc-bin (Fedora: grub2-pc-modules)"
_E2FS_HINT = "apt-get install e2fsprogs"


class PartType(enum.Enum):
    """GPT partition type GUIDs (UEFI 2.10 §5.3.3; BIOS boot: GRUB manual "BIOS installation")."""

    BIOS_BOOT = "21686148-6449-6E6F-744E-656564454649"
    ESP = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
    LINUX = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"


@dataclass(frozen=True)
class Partition:
    name: str  # the GPT partition name
    type: PartType
    start: int  # bytes
    size: int  # bytes
    legacy_boot: bool = False  # GPT attribute bit 2, "legacy BIOS bootable"

    @property
    def end(self) -> int:
        return self.start + self.size


def guid(seed: str, purpose: str) -> str:
    return str(uuid.UUID(bytes=derive_bytes(seed, purpose, 16), version=4)).upper()


def layout(sizes: Sequence[tuple[str, PartType, int]], *, align: int, bios_boot: bool) -> tuple[Partition, ...]:
    """Partitions of the given (name, type, size in bytes) one after the other, each aligned to `align` bytes,
    after a BIOS boot partition from byte 24576 up to the first boundary when bios_boot."""
    parts: list[Partition] = []
    position = align
    if bios_boot:
        parts.append(Partition("BIOS boot", PartType.BIOS_BOOT, BIOS_BOOT_START, align - BIOS_BOOT_START))
    for name, kind, size in sizes:
        size = -(-size // align) * align
        parts.append(Partition(name, kind, position, size, legacy_boot=kind is PartType.LINUX))
        position += size
    return tuple(parts)


def disk_size(parts: Sequence[Partition], align: int) -> int:
    """The size of an image holding `parts` and the backup GPT, in whole `align` units."""
    return -(-(max(p.end for p in parts) + GPT_BACKUP_BYTES) // align) * align


def sfdisk_script(parts: Sequence[Partition], seed: str) -> str:
    """The sfdisk(8) script of the GPT: every GUID derived from the seed, so two builds are identical."""
    lines = ["label: gpt", f"label-id: {guid(seed, 'gpt-disk')}", "first-lba: 34", "unit: sectors", ""]
    for number, part in enumerate(parts, 1):
        attrs = ', attrs="LegacyBIOSBootable"' if part.legacy_boot else ""
        lines.append(
            f"start={part.start // SECTOR}, size={part.size // SECTOR}, type={part.type.value}, "
            f'uuid={guid(seed, f"gpt-part-{number}")}, name="{part.name}"{attrs}'
        )
    return "\n".join(lines) + "\n"


def write_partition_table(target: Path, parts: Sequence[Partition], seed: str) -> None:
    """Write the GPT (and its protective MBR) to a disk image file or a device; old signatures are wiped."""
    run(["sfdisk", "--quiet", "--wipe", "always", "--no-reread", "--no-tell-kernel", target],
        input=sfdisk_script(parts, seed), hint="apt-get install fdisk")  # fmt: skip


def mke2fs(
    target: Path, part: Partition, *, fstype: str, label: str, seed: str, epoch: int,
    content: Path | None = None, params: Sequence[str] = (),
) -> str:  # fmt: skip
    """An ext2/3/4 file system in `part` of `target`, filled from `content` (mke2fs -d) when given. The UUID and
    the directory hash seed come from the seed, every inode and superblock time is epoch
    (E2FSPROGS_FAKE_TIME, e2fsprogs' own knob for reproducible images). Returns the UUID."""
    if fstype not in ("ext2", "ext3", "ext4"):
        raise UserError(f"USB_DEVICE_FILESYSTEM={fstype} is not supported", hint="use ext3 (ReaR's default) or ext4")
    fs_uuid = guid(seed, "ext-uuid").lower()
    options = f"offset={part.start},hash_seed={guid(seed, 'ext-hash').lower()},root_owner=0:0,nodiscard"
    argv: list[str | Path] = ["mke2fs", "-q", "-F", "-t", fstype, "-L", label, "-U", fs_uuid, "-E", options,
                              "-b", "4096", *params]  # fmt: skip
    if content is not None:
        argv += ["-d", content]
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "E2FSPROGS_FAKE_TIME": str(epoch),
           "SOURCE_DATE_EPOCH": str(epoch), "TZ": "UTC", "LC_ALL": "C"}  # fmt: skip
    run([*argv, target, f"{part.size // 1024}k"], env=env, hint=_E2FS_HINT)
    if content is not None:
        _pin_ctimes(target, part, content, epoch, env)
    return fs_uuid


def _pin_ctimes(target: Path, part: Partition, content: Path, epoch: int, env: dict[str, str]) -> None:
    """mke2fs -d copies each source file's ctime, which no one can set (e2fsprogs 1.47.0; 1.47.1 clamps it to
    SOURCE_DATE_EPOCH): set every inode's times to epoch with debugfs, on the file system at its offset."""
    stamp = datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y%m%d%H%M%S")
    paths = ["/", *sorted("/" + p.relative_to(content).as_posix() for p in content.rglob("*"))]
    for path in paths:
        if '"' in path or "\n" in path:
            raise UserError(f"cannot put {path!r} on the medium: quotes and newlines are not allowed in names")
    paths.append("/lost+found")
    script = "".join(f'sif "{path}" {field} {stamp}\n' for path in paths for field in ("atime", "ctime", "mtime"))
    run(["debugfs", "-w", "-f", "-", f"{target}?offset={part.start}"], input=script, env=env, hint=_E2FS_HINT)


def build_grub_core(out: Path, early_config: Path, module_dir: Path = GRUB_PC_DIR) -> Path:
    """GRUB's BIOS core.img with every module built in and `early_config` embedded."""
    if not (module_dir / "boot.img").is_file():
        raise UserError(f"GRUB's BIOS files are not installed ({module_dir}/boot.img)", hint=_GRUB_HINT)
    run(["grub-mkimage", "-O", "i386-pc", "-d", module_dir, "-p", "/boot/grub", "-c", early_config, "-o", out,
         *sorted(GRUB_PC_MODULES)], hint=_GRUB_HINT)  # fmt: skip
    return out


def install_grub_bios(target: Path, bios_boot: Partition, core: Path, module_dir: Path = GRUB_PC_DIR) -> None:
    """Put boot.img into the MBR and core.img into the BIOS boot partition, as grub-bios-setup does for a GPT disk
    (util/setup.c): boot.img learns where core.img starts, core.img's first sector where the rest of it is."""
    image = core.read_bytes()
    if len(image) > bios_boot.size:
        raise UserError(f"GRUB's core.img ({len(image)} bytes) does not fit the BIOS boot partition")
    core_lba = bios_boot.start // SECTOR
    rest_sectors = -(-len(image) // SECTOR) - 1
    first = bytearray(image[:SECTOR])
    _, length, segment = struct.unpack_from("<QHH", first, BLOCKLIST)
    struct.pack_into("<QHH", first, BLOCKLIST, core_lba + 1, length or rest_sectors, segment)
    boot = (module_dir / "boot.img").read_bytes()
    with target.open("r+b") as disk:
        mbr = bytearray(disk.read(SECTOR))
        new = bytearray(boot[:SECTOR])
        new[BOOT_BPB[0] : BOOT_BPB[1]] = mbr[BOOT_BPB[0] : BOOT_BPB[1]]
        new[MBR_CODE_END:] = mbr[MBR_CODE_END:]
        struct.pack_into("<Q", new, BOOT_KERNEL_SECTOR, core_lba)
        new[BOOT_DRIVE_CHECK : BOOT_DRIVE_CHECK + 2] = b"\x90\x90"
        disk.seek(0)
        disk.write(new)
        disk.seek(bios_boot.start)
        disk.write(bytes(first) + image[SECTOR:])
        disk.flush()
        os.fsync(disk.fileno())


def create_image_file(path: Path, size: int) -> None:
    """A new sparse file of `size` bytes (zeros), replacing what is there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fp:
        fp.truncate(size)


def partitions_of(target: Path) -> tuple[Partition, ...]:
    """The GPT partitions of a disk or disk image file, as sfdisk reads them."""
    result = run(["sfdisk", "-J", target], check=False)
    if result.returncode != 0:
        return ()
    table = json.loads(result.out).get("partitiontable", {})
    sector = int(table.get("sectorsize", SECTOR))
    parts = []
    for entry in table.get("partitions", []):
        try:
            kind = PartType(str(entry.get("type", "")).upper())
        except ValueError:
            continue
        parts.append(Partition(str(entry.get("name", "")), kind, int(entry["start"]) * sector,
                               int(entry["size"]) * sector))  # fmt: skip
    return tuple(parts)
