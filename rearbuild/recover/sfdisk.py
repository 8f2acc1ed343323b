"""One sfdisk script per disk (sfdisk(8) "INPUT FORMATS", the dump format): every identity of the saved table.

ReaR 2.7 recreates partitions with `parted mkpart` and gets a new GPT disk GUID, new PARTUUIDs and an MBR
disk signature of zero, which breaks boot entries, fstab and crypttab lines that name them (study §7.2). A
sfdisk script carries them all: `label-id` (GPT disk GUID / MBR signature), `first-lba`, and per partition
its number (from the device name), exact start and size in sectors, type (GUID or MBR id), `uuid`, `name`,
`attrs` and `bootable`.
"""

from __future__ import annotations

from rearbuild.errors import UserError
from rearbuild.layout.model import Disk, Part
from rearbuild.layout.partitions import GptType, MbrType, PartFlag, gpt_attrs, gpt_name, msdos_signature
from rearbuild.recover.mapping import partition_device, partition_number


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
    label = disk.label.sfdisk_label
    if label is None:
        raise UserError(f"{disk.device}: a {disk.label.value} partition table cannot be recreated (gpt and msdos can)")
    lines.append(f"label: {label}")
    if disk.label.is_gpt:
        if disk.gpt_guid:
            lines.append(f"label-id: {disk.gpt_guid.upper()}")
    else:
        signature = msdos_signature(p.partuuid for p in parts)
        if signature:
            lines.append(f"label-id: {signature}")
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
            fields.append(f"type={(part.gpt_type or GptType.of_flags(part.flags).guid).upper()}")
            if part.partuuid:
                fields.append(f"uuid={part.partuuid.upper()}")
            name = gpt_name(part.name)
            if '"' in name:
                raise UserError(f"{part.device}: the GPT name {name!r} contains a double quote sfdisk cannot take")
            if name:
                fields.append(f'name="{name}"')
            attrs = gpt_attrs(part.flags)
            if attrs:
                fields.append(f'attrs="{attrs}"')
        else:
            fields.append(f"type={MbrType.of(part.msdos_kind, part.flags).system_id}")
            if PartFlag.BOOT in part.flags:
                fields.append("bootable")
        node = partition_device(device, partition_number(part))
        lines.append(f"{node} : {', '.join(fields)}")
    return "\n".join(lines) + "\n"
