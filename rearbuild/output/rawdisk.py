"""OUTPUT=RAWDISK: a bootable GPT disk image `$RAWDISK_IMAGE_NAME.raw` (ReaR's output/RAWDISK): one FAT partition
(GPT name RAWDISK_GPT_PARTITION_NAME, volume label RAWDISK_FAT_VOLUME_LABEL) with the rescue system and the UEFI
loader, plus a small BIOS boot partition for GRUB's BIOS core where ReaR uses syslinux. The tree and menu are the
USB medium's (rearbuild.output.usb), so one GRUB menu serves both firmwares. Made without root or mount,
byte-identical from the same inputs; compressed with RAWDISK_IMAGE_COMPRESSION_COMMAND (the file dated epoch, so
gzip's header is reproducible too)."""

from __future__ import annotations

import os
import shlex
import tempfile
from collections.abc import Sequence
from pathlib import Path

from rearbuild.errors import UserError
from rearbuild.output import diskimage
from rearbuild.output.diskimage import MIB, PartType
from rearbuild.output.efi import copy_into_fat, format_fat
from rearbuild.output.pinned import derive_u32
from rearbuild.output.usb import (
    SLACK_BYTES,
    BootLoaders,
    MenuSettings,
    RescueSystem,
    _efi_files,
    _grub_core,
    add_system,
    marker_for,
    write_menu,
)
from rearbuild.run import run

MAX_GPT_NAME = 36  # UEFI 2.10 §5.3.3: PartitionName is 72 bytes of UTF-16
MAX_FAT_LABEL = 11  # FAT volume label, 8.3 directory entry


def build_rawdisk(
    out: Path, system: RescueSystem, *, kernel: Path, initrd: Path, cmdline: Sequence[str], menu: MenuSettings,
    loaders: BootLoaders, partition_name: str, fat_label: str, epoch: int, seed: str,
) -> Path:  # fmt: skip
    if not partition_name or len(partition_name) > MAX_GPT_NAME or '"' in partition_name:
        raise UserError(f"RAWDISK_GPT_PARTITION_NAME={partition_name!r}: 1-{MAX_GPT_NAME} characters, no quotes")
    if not fat_label or len(fat_label) > MAX_FAT_LABEL or not fat_label.isascii():
        raise UserError(f"RAWDISK_FAT_VOLUME_LABEL={fat_label!r}: 1-{MAX_FAT_LABEL} ASCII characters")
    if not loaders.bios and loaders.efi is None:
        raise UserError("RAWDISK excludes both boot loaders", hint="keep the BIOS or the UEFI boot loader")
    marker = marker_for(seed)
    with tempfile.TemporaryDirectory(prefix=".rawdisk-", dir=out.parent if out.parent.exists() else None) as tmp:
        work = Path(tmp)
        tree = work / "tree"
        add_system(tree, system, kernel, initrd, cmdline)
        write_menu(tree, menu, marker)
        early = menu.templates.grub_early_cfg(marker)
        files: dict[str, Path | bytes] = {p.relative_to(tree).as_posix(): p for p in tree.rglob("*") if p.is_file()}
        files.update(_efi_files(work, loaders, early))
        content = sum(len(s) if isinstance(s, bytes) else s.stat().st_size for s in files.values())
        # at least 36 MiB: mkfs.fat's FAT16 needs enough clusters, and firmware rejects tiny ESPs (§B7)
        size = max(content + content // 10 + SLACK_BYTES, 36 * MIB)
        parts = diskimage.layout([(partition_name, PartType.ESP, size)], align=MIB, bios_boot=loaders.bios)
        diskimage.create_image_file(out, diskimage.disk_size(parts, MIB))
        diskimage.write_partition_table(out, parts, seed)
        fat = parts[-1]
        format_fat(out, offset=fat.start, size=fat.size, label=fat_label, volume_id=derive_u32(seed, "rawdisk"))
        copy_into_fat(f"{out}@@{fat.start}", files, epoch=epoch)
        if loaders.bios:
            diskimage.install_grub_bios(out, parts[0], _grub_core(work, early))
    os.utime(out, (epoch, epoch))
    return out


def compress(image: Path, command: str) -> Path:
    """Run RAWDISK_IMAGE_COMPRESSION_COMMAND on image; the one new file beside it is the result ('' keeps it)."""
    if not command.strip():
        return image
    before = set(image.parent.iterdir())
    run([*shlex.split(command), image], hint="check RAWDISK_IMAGE_COMPRESSION_COMMAND")
    made = sorted(set(image.parent.iterdir()) - before - {image})
    if len(made) != 1:
        raise UserError(f"RAWDISK_IMAGE_COMPRESSION_COMMAND={command!r} did not write one file beside {image.name}",
                        hint="the command must write FILE.<suffix>, e.g. gzip or xz")  # fmt: skip
    return made[0]
