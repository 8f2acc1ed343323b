"""OUTPUT=CDROM: the rescue ISO burnt to a CD/DVD with xorriso (the seed's "Write result to CD/DVD"; ReaR 2.7
itself has no such output). The drive and its medium are checked before anything is written: a drive that cannot
be opened, no medium, a closed write-once disc or too little room is one clear error naming CDROM_DEVICE.
xorriso's stdio:/path pseudo-drive (a file or a block device written as if it were a disc) does the same for
images and tests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rearbuild.errors import UserError
from rearbuild.run import run

# Sizes on optical media are counted in 2048-byte sectors (ECMA-130 §14 / ECMA-119 §6.1.2: a logical sector).
SECTOR = 2048
_HINT = "insert a blank or rewritable CD/DVD into CDROM_DEVICE, or set CDROM_DEVICE (stdio:/path writes a file)"


@dataclass(frozen=True)
class Medium:
    """What xorriso says about the medium in the drive (-tell_media_space)."""

    kind: str  # "Media current:", e.g. "CD-RW", "DVD+RW", "stdio file, overwriteable"
    status: str  # "Media status :", e.g. "is blank", "is written , is closed"
    free_sectors: int

    @property
    def writable(self) -> bool:
        # a closed disc is writable only when it can be overwritten (RW media, stdio files); xorriso blanks it
        overwritable = "overwriteable" in self.kind or "RW" in self.kind or "RAM" in self.kind
        return "is closed" not in self.status or overwritable

    @classmethod
    def parse(cls, text: str) -> Medium:
        def field(name: str) -> str:
            found = re.search(rf"^{re.escape(name)}\s*:\s*(.*)$", text, re.M)
            return found.group(1).strip() if found else ""

        space = re.search(r"^Media space\s*:\s*(\d+)s", text, re.M)
        return cls(field("Media current"), field("Media status"), int(space.group(1)) if space else 0)


def probe(device: str) -> Medium:
    """The medium in device; UserError when there is no drive or no medium that can be written."""
    if not device.strip():
        raise UserError("OUTPUT=CDROM needs CDROM_DEVICE", hint="set CDROM_DEVICE=/dev/sr0 in local.conf")
    result = run(["xorriso", "-outdev", device, "-tell_media_space"], check=False)
    text = result.out + result.err
    medium = Medium.parse(text)
    if result.returncode != 0 or not medium.kind or "is not present" in medium.status or "none" in medium.kind:
        reason = [line for line in text.splitlines() if "SORRY" in line or "FAILURE" in line][:1]
        why = reason[0].split(":", 2)[-1].strip() if reason else "no medium"
        raise UserError(f"CDROM_DEVICE={device}: no writable medium ({why})", hint=_HINT)
    if not medium.writable:
        raise UserError(f"CDROM_DEVICE={device}: the disc is written and closed ({medium.kind})", hint=_HINT)
    return medium


def burn(iso: Path, device: str) -> Medium:
    """Write iso to the medium in device (blanking a rewritable one first when needed), then check it."""
    medium = probe(device)
    size = iso.stat().st_size
    if medium.free_sectors * SECTOR < size:
        raise UserError(f"CDROM_DEVICE={device}: the ISO ({size / 2**20:.1f} MiB) does not fit on the medium "
                        f"({medium.free_sectors * SECTOR / 2**20:.1f} MiB free)",
                        hint="use a larger medium (DVD), or make the rescue image smaller")  # fmt: skip
    result = run(["xorriso", "-as", "cdrecord", "-v", f"dev={device}", "blank=as_needed", str(iso)],
                 check=False)  # fmt: skip
    failed = [line for line in (result.out + result.err).splitlines() if "FAILURE" in line]
    # xorriso -as cdrecord exits 0 after "-abort_on FAILURE" on some errors: its messages are the verdict
    if result.returncode != 0 or failed:
        why = failed[0].split(":", 2)[-1].strip() if failed else f"exit status {result.returncode}"
        raise UserError(f"burning {iso.name} to CDROM_DEVICE={device} failed: {why}", hint=_HINT)
    return medium
