"""One sfdisk script per disk (sfdisk(8) "INPUT FORMATS", the dump format): every identity of the saved table.

ReaR 2.7 recreates partitions with `parted mkpart` and gets a new GPT disk GUID, new PARTUUIDs and an MBR
disk signature of zero, which breaks boot entries, fstab and crypttab lines that name them (study §7.2). A
sfdisk script carries them all: `label-id` (GPT disk GUID / MBR signature), `first-lba`, and per partition
its number (from the device name), exact start and size in sectors, type (GUID or MBR id), `uuid`, `name`,
`attrs` and `bootable`.
"""

from __future__ import annotations

import enum

from rearbuild.errors import UserError
from rearbuild.layout.model import Disk, LabelType, MsdosPartKind, Part, PartFlag
from rearbuild.recover.mapping import partition_device, partition_number

# GPT attribute bit 2 "LegacyBIOSBootable" (UEFI spec §5.3.3 table 5-8), sfdisk's name for it.
_LEGACY_BOOT_ATTR = "LegacyBIOSBootable"
# The placeholder capture writes for an empty GPT name (ReaR's), and its escape for blanks (study §2.1).
_NONAME = "rear-noname"
# GPT "Linux filesystem data" (Discoverable Partitions Specification): sfdisk's default type on GPT.
_GPT_LINUX = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
# The kernel's PARTUUID of an MBR partition is "<signature %08x>-<number %02x>" (block/partitions/msdos.c).
_MSDOS_PARTUUID_SIGNATURE_DIGITS = 8


class MsdosType(enum.Enum):
    """MBR system ids (sfdisk -T) for the flags ReaR records: the layout has no type field on msdos."""

    LINUX = "83"
    SWAP = "82"
    EXTENDED = "5"
    LVM = "8e"
    RAID = "fd"
    ESP = "ef"
    PREP = "41"
    DIAG = "de"

    @classmethod
    def of(cls, part: Part) -> MsdosType:
        if part.msdos_kind is MsdosPartKind.EXTENDED:
            return cls.EXTENDED
        for flag, kind in _FLAG_TYPES:
            if flag in part.flags:
                return kind
        return cls.LINUX


_FLAG_TYPES = (
    (PartFlag.LVM, MsdosType.LVM),
    (PartFlag.RAID, MsdosType.RAID),
    (PartFlag.SWAP, MsdosType.SWAP),
    (PartFlag.ESP, MsdosType.ESP),
    (PartFlag.PREP, MsdosType.PREP),
    (PartFlag.DIAG, MsdosType.DIAG),
)


def gpt_name(part: Part) -> str:
    """The partition name as GPT stores it: %20 back to blanks, ReaR's rear-noname back to empty."""
    if part.name == _NONAME:
        return ""
    return part.name.replace("%20", " ")


def msdos_signature(parts: list[Part]) -> str | None:
    """The MBR disk signature, from the PARTUUIDs capture derived from it."""
    for part in parts:
        if part.partuuid and "-" in part.partuuid:
            head = part.partuuid.split("-", 1)[0]
            if len(head) == _MSDOS_PARTUUID_SIGNATURE_DIGITS:
                return f"0x{head.lower()}"
    return None


def _sectors(value: int, sector_size: int, what: str) -> int:
    if value < 0 or value % sector_size:
        raise UserError(
            f"{what} is {value} bytes, not a whole number of {sector_size}-byte sectors",
            hint="correct the layout file (sizes and starts are bytes), or map the disk to one with the "
            "original sector size",
        )
    return value // sector_size


def script(disk: Disk, parts: list[Part], sector_size: int = 512) -> str:
    """The sfdisk script that recreates `disk`'s table with `parts` (sizes in bytes, as the layout has them)."""
    device = disk.device
    lines: list[str] = []
    if disk.label.is_gpt:
        lines.append("label: gpt")
        if disk.gpt_guid:
            lines.append(f"label-id: {disk.gpt_guid.upper()}")
    elif disk.label is LabelType.MSDOS:
        lines.append("label: dos")
        signature = msdos_signature(parts)
        if signature:
            lines.append(f"label-id: {signature}")
    else:
        raise UserError(f"{disk.device}: a {disk.label.value} partition table cannot be recreated (gpt and msdos can)")
    lines += [f"device: {device}", "unit: sectors"]
    if disk.label.is_gpt and disk.first_usable_lba is not None:
        lines.append(f"first-lba: {disk.first_usable_lba}")
    lines.append("")
    for part in sorted(parts, key=partition_number):
        fields = [
            f"start={_sectors(part.start, sector_size, f'the start of {part.device}')}",
            f"size={_sectors(part.size, sector_size, f'the size of {part.device}')}",
        ]
        if disk.label.is_gpt:
            fields.append(f"type={(part.gpt_type or _GPT_LINUX).upper()}")
            if part.partuuid:
                fields.append(f"uuid={part.partuuid.upper()}")
            name = gpt_name(part)
            if '"' in name:
                raise UserError(f"{part.device}: the GPT name {name!r} contains a double quote sfdisk cannot take")
            if name:
                fields.append(f'name="{name}"')
            if PartFlag.LEGACY_BOOT in part.flags:
                fields.append(f'attrs="{_LEGACY_BOOT_ATTR}"')
        else:
            fields.append(f"type={MsdosType.of(part).value}")
            if PartFlag.BOOT in part.flags:
                fields.append("bootable")
        node = partition_device(device, partition_number(part))
        lines.append(f"{node} : {', '.join(fields)}")
    return "\n".join(lines) + "\n"
