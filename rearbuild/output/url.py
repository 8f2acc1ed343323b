"""OUTPUT_URL / BACKUP_URL: ReaR's URL schemes, each with its behaviour. file:// is a local directory;
the other schemes ReaR knows are refused with a clear message until rearbuild implements them."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from rearbuild.errors import UserError


class Scheme(enum.Enum):
    FILE = "file"
    NULL = "null"  # ReaR: keep the results where they were built

    @classmethod
    def parse(cls, name: str, url: str) -> Scheme:
        try:
            return cls(name)
        except ValueError:
            raise UserError(
                f"OUTPUT_URL={url!r}: the scheme {name!r} is not supported by rearbuild yet",
                hint="use file:///directory (nfs, cifs, usb, sftp ... are planned)",
            ) from None


@dataclass(frozen=True)
class OutputUrl:
    scheme: Scheme
    path: Path

    @classmethod
    def parse(cls, url: str) -> OutputUrl | None:
        url = url.strip()
        if not url:
            return None
        parts = urlsplit(url)
        if not parts.scheme:
            raise UserError(f"OUTPUT_URL={url!r} has no scheme", hint=f"write file://{url}")
        scheme = Scheme.parse(parts.scheme, url)
        if scheme is Scheme.NULL:
            return None
        if parts.netloc:
            raise UserError(
                f"OUTPUT_URL={url!r}: file URLs have no host part", hint="write file:///absolute/path (three slashes)"
            )
        return cls(scheme, Path(parts.path))

    def directory(self, prefix: str) -> Path:
        return self.path / prefix if prefix else self.path
