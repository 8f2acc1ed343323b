"""A tape drive as ReaR uses it (study §4.7, §6 TAPE): a non-rewinding SCSI tape (/dev/nstN), positioned with
`mt`, written and read with `dd`, holding a sequence of tape files separated by file marks.

    plain tape (BACKUP_URL=tape:///dev/nst0)   file 0: the backup archive, file 1: its trailer (Trailer)
    OBDR (OUTPUT=OBDR)                         file 0: the label REAR-000 in 20 x 512-byte records
                                               file 1: the rescue ISO in 2048-byte records
                                               file 2: empty (ReaR's explicit `mt eof`)
                                               file 3: the backup archive (ReaR: verify/OBDR/570_seek_backup.sh,
                                                       "mt fsf 3"); file 4: its trailer

What goes on a tape is modelled as an ordered tuple of Records (block size, payload, file mark): a pure value
that is unit-tested; Drive writes it with mt/dd and reads it back. The backup archive itself is a stream
(tar | compress) written through `dd` in records of the configured size.
"""

from __future__ import annotations

import enum
import logging
import os
import re
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from rearbuild.backup.pipeline import Step
from rearbuild.errors import UserError
from rearbuild.run import run

log = logging.getLogger("rearbuild.backup")

# ReaR's OBDR header (format/OBDR/default/700_write_OBDR_header.sh): the label, NUL-padded to 20 x 512 bytes.
LABEL_RECORD = 512
LABEL_RECORDS = 20
LABEL_BYTES = LABEL_RECORD * LABEL_RECORDS
# The archive is written and read with `dd bs=1M`, as ReaR does (backup/NETFS/default/500_make_backup.sh); in
# variable block mode (TAPE_BLOCKSIZE=0) each record is one write, so reading with the same size gets it whole.
STREAM_RECORD = 1 << 20
# Unlike ReaR, every record of the archive is full (the last one NUL-padded): a short last record came back
# corrupted through tgt's virtual drive and QEMU's SCSI passthrough (measured, tests/vm/tape), and a padded one
# works on every drive. The archive's true length and sha256 are kept in a trailer, the tape file after it.
TRAILER_MAGIC = b"REARBUILD-TAPE-ARCHIVE"
_TIMEOUT = 600  # seconds for one mt command: a rewind of a full LTO cartridge takes minutes


class TapeLayout(enum.Enum):
    """Where the backup is on the tape: the tape file number `mt fsf` skips to after a rewind."""

    PLAIN = 0  # BACKUP_URL=tape://: the archive is the first file
    OBDR = 3  # label, ISO, empty file, archive

    @property
    def backup_file(self) -> int:
        return self.value


@dataclass(frozen=True)
class Record:
    """One tape file: payload written in records of block_size bytes (0: one record per write), then a file
    mark. payload None: only the file mark (an empty tape file)."""

    block_size: int
    payload: bytes | Path | None

    def __post_init__(self) -> None:
        if isinstance(self.payload, bytes) and self.block_size and len(self.payload) % self.block_size:
            raise ValueError("a fixed-block payload must fill whole records")


def label_bytes(label: str) -> bytes:
    """The OBDR header: the label and NULs, 20 x 512 bytes (ReaR writes it with printf | tr | dd)."""
    data = label.encode("ascii", "replace")
    if not data or len(data) >= LABEL_BYTES or b"\0" in data or not label.isascii():
        raise UserError(
            f"tape label {label!r} cannot be written (USB_DEVICE_FILESYSTEM_LABEL)",
            hint="use plain ASCII, e.g. ReaR's REAR-000",
        )
    return data.ljust(LABEL_BYTES, b"\0")


def has_label(head: bytes, label: str) -> bool:
    """The first record read from the tape carries label. ReaR compares the first 8 characters only
    (rear#1535); the whole label followed by a NUL is compared here, so REAR-000 does not match REAR-0001."""
    return head.startswith(label.encode("ascii", "replace") + b"\0")


@dataclass(frozen=True)
class Trailer:
    """What the tape file after the archive says about it: its length in bytes (without the padding) and sha256."""

    size: int
    sha256: str

    def encode(self, record: int) -> bytes:
        return f"{TRAILER_MAGIC.decode()} size={self.size} sha256={self.sha256}\n".encode().ljust(record, b"\0")

    @classmethod
    def decode(cls, data: bytes) -> Trailer | None:
        """None: not a trailer (no backup completed on this tape, or it was written by another tool)."""
        found = re.match(rb"REARBUILD-TAPE-ARCHIVE size=(\d+) sha256=([0-9a-f]{64})\n", data)
        return cls(int(found[1]), found[2].decode()) if found else None


def record_size(block_size: int) -> int:
    """The archive's record size: 1 MiB in variable block mode, else the largest multiple of the fixed block
    size up to 1 MiB (st refuses a write that is not a multiple of it)."""
    if not block_size:
        return STREAM_RECORD
    return max(block_size, STREAM_RECORD // block_size * block_size)


def nonrewinding(device: str) -> str:
    """/dev/st0 -> /dev/nst0: a rewinding device rewinds on close and the next file overwrites the label
    (ReaR: prep/default/040_change_tape_name.sh)."""
    path = PurePosixPath(device)
    if re.fullmatch(r"st\d+[lma]?", path.name):
        return str(path.with_name("n" + path.name))
    return device


@dataclass(frozen=True)
class TapeSettings:
    device: str  # TAPE_DEVICE, or the path of BACKUP_URL=tape://
    block_size: int  # TAPE_BLOCKSIZE: mt setblk for the archive; 0 = variable block mode
    layout: TapeLayout
    label: str  # USB_DEVICE_FILESYSTEM_LABEL (REAR-000): the OBDR header's label
    obdr_block_size: int = 2048  # OBDR_BLOCKSIZE: the ISO's record size (a CD sector)


def parse_block_size(name: str, text: str) -> int:
    """TAPE_BLOCKSIZE / OBDR_BLOCKSIZE: empty means 0, variable blocks (ReaR: mt setblk ${TAPE_BLOCKSIZE:-0})."""
    text = text.strip() or "0"
    if not text.isdigit() or (int(text) and int(text) % 512):
        raise UserError(f"{name}={text!r} is not a tape block size", hint=f"set {name} to 0 or a multiple of 512")
    return int(text)


class Drive:
    """A tape drive reached through `mt` and `dd` (mt-st's mt: `mt -f DEVICE COMMAND [COUNT]`)."""

    def __init__(self, device: str) -> None:
        self.device = device

    def mt(self, *command: str, check: bool = True) -> str:
        return run(["mt", "-f", self.device, *command], check=check, timeout=_TIMEOUT).out

    def check_ready(self, *, write: bool) -> None:
        """mt status shows ONLINE (a cartridge is loaded) and, to write, not WR_PROT
        (ReaR: prep/TAPE/default/400_check_tape_drive.sh)."""
        if not Path(self.device).exists():
            raise UserError(
                f"tape device {self.device} does not exist",
                hint="check TAPE_DEVICE / BACKUP_URL=tape://, and that the st driver is loaded (modprobe st)",
            )
        status = run(["mt", "-f", self.device, "status"], check=False, timeout=_TIMEOUT)
        words = status.out.split()
        if status.returncode != 0 or "ONLINE" not in words:
            raise UserError(
                f"tape drive {self.device} is not ready (no cartridge loaded?)",
                hint=f"load a cartridge; `mt -f {self.device} status` must show ONLINE",
            )
        if write and "WR_PROT" in words:
            raise UserError(f"the cartridge in {self.device} is write-protected", hint="use a writable cartridge")

    def position(self, tape_file: int, block_size: int) -> None:
        """Rewind, set the block size, skip tape_file file marks."""
        self.mt("rewind")
        self.mt("setblk", str(block_size))
        if tape_file:
            self.mt("fsf", str(tape_file))

    def compression(self, on: bool) -> None:
        """Drive compression; best effort (ReaR falls back to datcompression, some drives know neither)."""
        word = "1" if on else "0"
        if run(["mt", "-f", self.device, "compression", word], check=False, timeout=_TIMEOUT).returncode:
            log.info("tape %s: compression %s not supported by the drive", self.device, "on" if on else "off")

    def write(self, records: Sequence[Record], *, start_file: int = 0) -> None:
        """Write records from tape file start_file on (rewound first), each followed by a file mark."""
        self.mt("rewind")
        if start_file:
            self.mt("fsf", str(start_file))
        for record in records:
            self.mt("setblk", str(record.block_size))
            match record.payload:
                case None:
                    pass
                case bytes() as data:
                    bs = record.block_size or len(data)
                    run([*self.dd_write(bs), "iflag=fullblock"], input=data, timeout=_TIMEOUT)
                case Path() as path:
                    # fixed-block mode: st splits each write into block_size records, so writing 1 MiB at a
                    # time is the same tape in far fewer SCSI commands; the file is a whole number of blocks
                    bs = record_size(record.block_size)
                    pad = () if record.block_size else ("conv=sync",)
                    run([*self.dd_write(bs), f"if={path}", "iflag=fullblock", *pad], timeout=None)
            # st writes a file mark when a device written to is closed; `mt weof` after dd would add a second
            # one, so the explicit mark is written only for an empty file (ReaR's `mt eof` after the ISO).
            if record.payload is None:
                self.mt("weof", "1")

    def dd_write(self, block_size: int) -> tuple[str, ...]:
        return ("dd", f"of={self.device}", f"bs={block_size}", "status=none")

    def write_step(self, block_size: int) -> Step:
        """The end of a backup stream: dd to the tape in full records, the last one NUL-padded."""
        bs = record_size(block_size)
        return Step(("dd", f"of={self.device}", f"bs={bs}", "iflag=fullblock", "conv=sync", "status=none"))

    def read_steps(self, block_size: int, size: int) -> tuple[Step, ...]:
        """The start of a restore stream: dd from the tape until the next file mark, cut to the archive's length."""
        # head ends the stream at the archive's length: dd, still reading the padding, gets SIGPIPE
        dd = Step(("dd", f"if={self.device}", f"bs={record_size(block_size)}", "status=none"),
                  ok_codes=(0, -signal.SIGPIPE, 128 + signal.SIGPIPE))  # fmt: skip
        return (dd, Step(("head", "-c", str(size))))

    def write_trailer(self, trailer: Trailer, block_size: int) -> None:
        """The trailer as the tape file after the archive (the archive's file mark was written when dd closed)."""
        bs = record_size(block_size)
        run([*self.dd_write(bs), "iflag=fullblock"], input=trailer.encode(bs), timeout=_TIMEOUT)

    def read_trailer(self, archive_file: int, block_size: int) -> Trailer | None:
        self.position(archive_file + 1, block_size)
        try:
            return Trailer.decode(self.read_head(512, block_size))
        except UserError:
            return None  # blank after the archive: the backup did not finish

    def read_head(self, size: int, block_size: int) -> bytes:
        """Up to size bytes from the current position (stops at a file mark); block_size 0: variable records."""
        chunk = record_size(block_size)
        data = bytearray()
        fd = os.open(self.device, os.O_RDONLY)
        try:
            while len(data) < size:
                part = os.read(fd, chunk)
                if not part:
                    break
                data += part
        except OSError as exc:
            raise UserError(f"cannot read tape {self.device}: {exc.strerror}", hint="check the cartridge") from exc
        finally:
            os.close(fd)
        return bytes(data[:size])

    def read_label(self) -> bytes:
        self.position(0, LABEL_RECORD)
        return self.read_head(LABEL_RECORD, LABEL_RECORD)

    def check_label(self, label: str) -> None:
        """The cartridge was formatted for rearbuild/ReaR (ReaR: prep/OBDR/default/500_check_tape_label.sh)."""
        try:
            head = self.read_label()
        except UserError:
            head = b""  # a blank cartridge: st reports an I/O error (BLANK CHECK) at the first read
        if not has_label(head, label):
            found = head[:16].split(b"\0")[0].decode("ascii", "replace") or "nothing readable"
            raise UserError(
                f"the tape in {self.device} is not labelled {label} (found {found!r})",
                hint=f"label it with `rearbuild format {self.device}` (this erases the tape)",
            )
