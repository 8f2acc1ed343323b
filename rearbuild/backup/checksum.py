"""The archive's sha256, written beside it as `<archive>.sha256` in sha256sum(1)'s format ("<hex>  <name>"), so
that `sha256sum -c backup.tar.gz.sha256` checks it by hand too. Checked before any disk is touched."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from rearbuild.errors import UserError

CHUNK = 1 << 20


def format_line(digest: str, name: str) -> str:
    return f"{digest}  {name}\n"


def parse_line(text: str, source: Path) -> str:
    """The hex digest of a .sha256 file."""
    words = text.split()
    digest = words[0].lower() if words else ""
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise UserError(f"{source} is not a sha256 checksum file", hint="it should read '<64 hex digits>  <name>'")
    return digest


def file_digest(path: Path, observe: Callable[[bytes], None] | None = None) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            if observe is not None:
                observe(chunk)
    return h.hexdigest()


def verify(archive: Path, observe: Callable[[bytes], None] | None = None) -> str:
    """Compare the archive with its .sha256 file; UserError on a mismatch or a missing checksum."""
    checksum = archive.with_name(archive.name + ".sha256")
    try:
        expected = parse_line(checksum.read_text(), checksum)
    except FileNotFoundError:
        raise UserError(
            f"{checksum} is missing: the backup cannot be checked",
            hint="make the backup again (rearbuild mkbackuponly) or restore the checksum file beside the archive",
        ) from None
    actual = file_digest(archive, observe)
    if actual != expected:
        raise UserError(
            f"the backup archive {archive} is damaged: its sha256 is {actual}, {checksum.name} says {expected}",
            hint="nothing was written; use an intact copy of the archive (NETFS_KEEP_OLD_BACKUP_COPY keeps one)",
        )
    return actual
