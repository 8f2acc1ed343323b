"""The metadata document every published set carries (rearbuild-metadata.json): which host and kernel the
results are for, which rearbuild built them from which manifest at which SOURCE_DATE_EPOCH, and each file's name,
size and sha256. It holds no time of publishing: the same results give the same bytes, so publishing them again
is recognised as a no-op. `rearbuild fetch` checks every file it downloads against it."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rearbuild import __version__
from rearbuild.checksum import sha256_bytes, sha256_file
from rearbuild.errors import UserError
from rearbuild.manifest import Manifest

NAME = "rearbuild-metadata.json"
FORMAT = "rearbuild-published-set"
VERSION = 1

# A published file's name: one path component of printable characters (a tampered document must not make fetch
# write outside its directory); 255 is NAME_MAX (include/uapi/linux/limits.h).
_SAFE_NAME = re.compile(r"[A-Za-z0-9._+-]{1,255}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class FileEntry:
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Provenance:
    """What the results are of and how they were made: facts of the manifest and the run, as plain values."""

    host: str
    kernel: str
    rearbuild_version: str
    manifest_sha256: str  # sha256 of the manifest the image was built from ("" when none is known)
    source_date_epoch: int

    @classmethod
    def of(cls, manifest: Manifest | None, *, host: str, epoch: int) -> Provenance:
        """The provenance of results built from manifest (None: of this host, no manifest known)."""
        if manifest is None:
            return cls(host, os.uname().release, __version__, "", epoch)
        return cls(manifest.facts.get("HOSTNAME", host), manifest.kernel_version, __version__,
                   sha256_bytes(manifest.dumps().encode()), epoch)  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {"host": self.host, "kernel": self.kernel, "rearbuild_version": self.rearbuild_version,
                "manifest_sha256": self.manifest_sha256, "source_date_epoch": self.source_date_epoch}  # fmt: skip

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Provenance:
        """KeyError, TypeError or ValueError when doc lacks a field."""
        return cls(str(doc["host"]), str(doc["kernel"]), str(doc["rearbuild_version"]), str(doc["manifest_sha256"]),
                   int(doc["source_date_epoch"]))  # fmt: skip


@dataclass(frozen=True)
class Metadata:
    provenance: Provenance
    files: tuple[FileEntry, ...]

    def dumps(self) -> bytes:
        data = {
            "format": FORMAT,
            "version": VERSION,
            **self.provenance.to_json(),
            "files": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in self.files],
        }
        return (json.dumps(data, indent=1, sort_keys=True) + "\n").encode()

    @classmethod
    def loads(cls, data: bytes, where: str) -> Metadata:
        def bad(what: str) -> UserError:
            return UserError(f"{where}: {what}", hint="the published set is damaged or not rearbuild's: publish again")

        try:
            doc: Any = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise bad("is not valid JSON") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise bad("is not a rearbuild metadata document")
        if doc.get("version") != VERSION:
            raise UserError(f"{where}: metadata version {doc.get('version')}, this rearbuild reads {VERSION}",
                            hint="fetch it with the rearbuild version that published it")  # fmt: skip
        try:
            files = tuple(FileEntry(str(f["name"]), int(f["size"]), str(f["sha256"])) for f in doc["files"])
            meta = cls(Provenance.from_json(doc), files)
        except (KeyError, TypeError, ValueError):
            raise bad("lacks a field or has one of the wrong type") from None
        for f in files:
            if not _SAFE_NAME.fullmatch(f.name) or f.name in (".", "..") or not _SHA256.fullmatch(f.sha256):
                raise bad(f"names an unsafe file {f.name[:80]!r} or a malformed sha256")
        if len({f.name for f in files}) != len(files):
            raise bad("lists a file twice")
        return meta


def describe(files: Sequence[Path], provenance: Provenance, known: Mapping[Path, str] | None = None) -> Metadata:
    """The metadata of files; known: digests already computed (keyed by path), not computed twice."""
    entries = []
    for path in files:
        if not _SAFE_NAME.fullmatch(path.name):
            raise UserError(f"cannot publish {path}: its name has characters other than A-Z a-z 0-9 . _ + -",
                            hint="rename the file")  # fmt: skip
        digest = (known or {}).get(path) or sha256_file(path)
        entries.append(FileEntry(path.name, path.stat().st_size, digest))
    if len({e.name for e in entries}) != len(entries):
        raise UserError("two result files have the same name", hint="a published set is one directory: rename one")
    return Metadata(provenance, tuple(entries))
