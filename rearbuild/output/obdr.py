"""OUTPUT=OBDR: HP's One-Button Disaster Recovery tape (study §4.7, peer study §B8).

An OBDR drive switched into CD-ROM mode (eject held at power-on, or the controller's option ROM) presents the
tape as a bootable CD: it expects the image 20 blocks into the tape and probes the 18th 2048-byte record for
"EL TORITO SPECIFICATION" at its 8th byte, i.e. the ISO's Boot Record Volume Descriptor at sector 17 (ECMA-119
8.2 + El Torito 1.0 §2.0). The layout written here is ReaR's: the label REAR-000 in 20 x 512-byte records, the
ISO in OBDR_BLOCKSIZE (2048-byte) records, an empty tape file, then the backup (tape file 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rearbuild.backup.tape import LABEL_RECORD, Drive, Record, has_label, label_bytes, nonrewinding, parse_block_size
from rearbuild.config.model import Config
from rearbuild.errors import UserError
from rearbuild.url import Scheme, Url, Use

ISO_SECTOR = 2048  # ECMA-119 6.1.2: a logical sector
BOOT_RECORD_SECTOR = 17  # El Torito 1.0 §2.0: the Boot Record Volume Descriptor is at sector 17
# ECMA-119 8.2: type 0 (boot record), "CD001", version 1, then the boot system identifier at byte 7
_BOOT_RECORD = b"\x00CD001\x01EL TORITO SPECIFICATION"


def check_iso(iso: Path) -> None:
    """The ISO is one an OBDR drive boots: El Torito's boot record at sector 17 (else the drive ejects)."""
    with open(iso, "rb") as f:
        f.seek(BOOT_RECORD_SECTOR * ISO_SECTOR)
        head = f.read(len(_BOOT_RECORD))
    if head != _BOOT_RECORD:
        raise UserError(
            f"{iso} has no El Torito boot record at sector 17: an OBDR drive in CD-ROM mode would eject the tape",
            hint="build the ISO with rearbuild's ISO writer (OUTPUT=OBDR does), not an external one",
        )
    if iso.stat().st_size % ISO_SECTOR:
        raise UserError(f"{iso} is not a whole number of 2048-byte sectors", hint="rebuild the ISO")


def header_records(label: str) -> tuple[Record, ...]:
    """What `rearbuild format` writes: the label tape file (ReaR: format/OBDR/default/700_write_OBDR_header.sh)."""
    return (Record(LABEL_RECORD, label_bytes(label)),)


def obdr_records(label: str, iso: Path, block_size: int) -> tuple[Record, ...]:
    """The whole OBDR prefix of the tape, in order: label, ISO, empty file; the backup follows as file 3."""
    check_iso(iso)
    if block_size % ISO_SECTOR or not block_size:
        raise UserError(
            f"OBDR_BLOCKSIZE={block_size}: the ISO must be written in records of whole CD sectors",
            hint="leave OBDR_BLOCKSIZE at ReaR's 2048",
        )
    return (*header_records(label), Record(block_size, iso), Record(0, None))


@dataclass(frozen=True)
class ObdrSettings:
    device: str  # TAPE_DEVICE (or the device of BACKUP_URL=tape://), non-rewinding
    label: str  # USB_DEVICE_FILESYSTEM_LABEL: ReaR labels OBDR tapes like USB media, REAR-000
    block_size: int  # OBDR_BLOCKSIZE: the ISO's record size


def settings(config: Config) -> ObdrSettings:
    device = config.text("TAPE_DEVICE").strip()
    url = config.text("BACKUP_URL").strip()
    if not device and Scheme.of(url) is Scheme.TAPE:
        device = str(Url.parse(url, Use.BACKUP).path)  # ReaR: prep/default/030_translate_tape.sh
    if not device:
        raise UserError("OUTPUT=OBDR needs TAPE_DEVICE", hint="set TAPE_DEVICE=/dev/nst0 in local.conf")
    return ObdrSettings(
        device=nonrewinding(device),
        label=config.text("USB_DEVICE_FILESYSTEM_LABEL") or "REAR-000",
        block_size=parse_block_size("OBDR_BLOCKSIZE", config.text("OBDR_BLOCKSIZE")) or ISO_SECTOR,
    )


def format_tape(device: str, label: str) -> None:
    """`rearbuild format DEVICE`: rewind, drive compression off, the label as tape file 0; everything after it on
    the tape is gone (the next file mark is end of data)."""
    drive = Drive(nonrewinding(device))
    drive.check_ready(write=True)
    drive.compression(False)
    drive.write(header_records(label))
    drive.mt("rewind")
    if not has_label(drive.read_label(), label):
        raise UserError(f"the label written to {device} does not read back", hint="check the drive and cartridge")


def write_obdr(s: ObdrSettings, iso: Path) -> None:
    """Label, ISO and the empty file onto the tape (ReaR: output/OBDR/default/840_write_image.sh); the backup,
    if any, follows as file 3. The tape must have been labelled by `format` (checked in prep)."""
    records = obdr_records(s.label, iso, s.block_size)
    drive = Drive(s.device)
    drive.check_ready(write=True)
    drive.check_label(s.label)
    drive.compression(False)  # an OBDR drive reads the ISO in CD-ROM mode, uncompressed
    drive.write(records)
    drive.mt("rewind")
