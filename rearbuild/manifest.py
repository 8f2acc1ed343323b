"""The manifest: everything a rescue image of a host is made of, as one JSON document.

Collect writes it on the host; build reads it anywhere (a container, CI). It lists every file the image will
contain with its source on the host, kind, mode, size, sha256 and why it is there, plus the facts, the effective
configuration, the kernel, the module load order, the network and the disk layout. It is sorted and carries no
time stamp, so two collections of an unchanged host give identical bytes.

A bundle (rearbuild.bundle) holds the files' contents by sha256 (objects/ab/abcdef...), so a build machine needs
nothing from the host; loading verifies what it can and rejects a corrupt or tampered manifest with a clear
error.
"""

from __future__ import annotations

import enum
import json
import os
import re
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rearbuild.config.bashstate import Value
from rearbuild.errors import InternalError, UserError

FORMAT = "rearbuild-manifest"
FORMAT_VERSION = 1
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_MAX_REASONS = 5


class EntryKind(enum.Enum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"

    @property
    def mode_type(self) -> int:
        return {EntryKind.FILE: stat.S_IFREG, EntryKind.DIR: stat.S_IFDIR, EntryKind.SYMLINK: stat.S_IFLNK}[self]


@dataclass(frozen=True)
class FileRecord:
    """One path of the rescue image. `path` is absolute in the image; for files it is also where the file is
    on the host unless `source` says otherwise."""

    path: str
    kind: EntryKind
    mode: int = 0o644
    source: str | None = None
    target: str | None = None
    size: int = 0
    sha256: str | None = None
    reasons: tuple[str, ...] = ()

    def merged(self, other: FileRecord) -> FileRecord:
        """The same path asked for twice: fine when it is the same thing, the reasons are kept together."""
        same = (self.kind, self.source, self.target, self.sha256) == (
            other.kind,
            other.source,
            other.target,
            other.sha256,
        )
        if not same:
            raise UserError(
                f"{self.path} would be two different things in the rescue image: "
                f"{self.describe()} ({', '.join(self.reasons)}) and {other.describe()} ({', '.join(other.reasons)})",
                hint="remove one of them from COPY_AS_IS/PROGS/LIBS",
            )
        reasons = tuple(dict.fromkeys((*self.reasons, *other.reasons)))
        # A directory symlink like /lib -> usr/lib is crossed by thousands of paths: a few reasons explain it.
        return replace(self, reasons=reasons[:_MAX_REASONS])

    def describe(self) -> str:
        match self.kind:
            case EntryKind.SYMLINK:
                return f"a symlink to {self.target}"
            case EntryKind.DIR:
                return "a directory"
            case EntryKind.FILE:
                return f"a copy of {self.source}"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "kind": self.kind.value, "mode": f"{self.mode:04o}"}
        if self.source is not None:
            data["source"] = self.source
        if self.target is not None:
            data["target"] = self.target
        if self.kind is EntryKind.FILE:
            data["size"] = self.size
            data["sha256"] = self.sha256
        data["reasons"] = list(self.reasons)
        return data

    @classmethod
    def from_json(cls, data: Any, where: str) -> FileRecord:
        if not isinstance(data, dict):
            raise _corrupt(where, "is not an object")
        path = _field(data, "path", str, where)
        where = f"{where} ({path})"
        try:
            kind = EntryKind(_field(data, "kind", str, where))
        except ValueError:
            raise _corrupt(where, f"has an unknown kind {data['kind']!r}") from None
        mode_text = _field(data, "mode", str, where)
        try:
            mode = int(mode_text, 8)
        except ValueError:
            raise _corrupt(where, f"has a bad mode {mode_text!r}") from None
        if not path.startswith("/") or "//" in path or "/../" in path + "/" or mode > 0o7777:
            raise _corrupt(where, "has a bad path or mode")
        record = cls(
            path=path,
            kind=kind,
            mode=mode,
            source=data.get("source"),
            target=data.get("target"),
            size=int(data.get("size", 0)),
            sha256=data.get("sha256"),
            reasons=tuple(_field(data, "reasons", list, where)),
        )
        if kind is EntryKind.FILE and (record.source is None or not _SHA256_RE.match(record.sha256 or "")):
            raise _corrupt(where, "is a file without source or sha256")
        if kind is EntryKind.SYMLINK and not record.target:
            raise _corrupt(where, "is a symlink without target")
        return record


def _corrupt(where: str, what: str) -> UserError:
    return UserError(
        f"manifest {where} {what}",
        hint="the manifest is corrupt or was edited: collect it again with `rearbuild collect`",
    )


def _field(data: Mapping[str, Any], name: str, kind: type, where: str) -> Any:
    if name not in data:
        raise _corrupt(where, f"lacks the field {name!r}")
    if not isinstance(data[name], kind):
        raise _corrupt(where, f"field {name!r} should be a {kind.__name__}")
    return data[name]


def _value_to_json(value: Value) -> Any:
    if isinstance(value, str):
        return value
    if value and isinstance(value[0], tuple):
        return {v[0]: v[1] for v in value if isinstance(v, tuple)}
    return list(value)


def _value_from_json(value: Any) -> Value:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), str(v)) for k, v in value.items()))
    raise UserError(f"manifest: configuration value {value!r} is neither text, list nor map")


@dataclass(frozen=True)
class Manifest:
    tool_version: str
    facts: Mapping[str, str]
    config: Mapping[str, Value]
    kernel_version: str
    kernel_file: str
    files: tuple[FileRecord, ...]
    # Module names in the order the rescue system loads them at boot, dependencies first (modprobe's order).
    modules_load: tuple[str, ...] = ()
    layout: str = ""
    network: Mapping[str, Any] = field(default_factory=dict)
    missing: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # CLONE_USERS/CLONE_GROUPS: "passwd" and "group" lines added to the rescue system's (rearbuild.collect.accounts)
    accounts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # The backup method's rescue payload (rearbuild.backup.methods.in_image): programs, files, bytes.
    backup_payload: Mapping[str, Any] = field(default_factory=dict)

    def file(self, path: str) -> FileRecord | None:
        return next((f for f in self.files if f.path == path), None)

    @property
    def size(self) -> int:
        """Bytes of all files the manifest lists."""
        return sum(f.size for f in self.files)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "tool_version": self.tool_version,
            "facts": dict(sorted(self.facts.items())),
            "config": {k: _value_to_json(v) for k, v in sorted(self.config.items())},
            "kernel": {"version": self.kernel_version, "file": self.kernel_file},
            "modules_load": list(self.modules_load),
            "layout": self.layout,
            "network": self.network,
            "missing": {k: list(v) for k, v in sorted(self.missing.items())},
            "accounts": {k: list(v) for k, v in sorted(self.accounts.items())},
            "backup_payload": dict(self.backup_payload),
            "files": [f.to_json() for f in self.files],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=1, sort_keys=True, ensure_ascii=False) + "\n"

    def write(self, path: Path) -> None:
        """Mode 0600: the configuration in it may hold secrets."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(self.dumps())
        tmp.replace(path)

    @classmethod
    def loads(cls, text: str, source: str = "manifest") -> Manifest:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(
                f"{source}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}",
                hint="the manifest is corrupt: collect it again with `rearbuild collect`",
            ) from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise _corrupt(source, "is not a rearbuild manifest")
        if data.get("version") != FORMAT_VERSION:
            raise UserError(
                f"{source} is a manifest of format version {data.get('version')}, "
                f"this rearbuild reads version {FORMAT_VERSION}",
                hint="collect it again with this version of rearbuild",
            )
        kernel = _field(data, "kernel", dict, source)
        files = tuple(
            FileRecord.from_json(f, f"{source} file #{i}") for i, f in enumerate(_field(data, "files", list, source))
        )
        paths = [f.path for f in files]
        if paths != sorted(paths) or len(set(paths)) != len(paths):
            raise _corrupt(source, "lists files out of order or twice")
        return cls(
            tool_version=_field(data, "tool_version", str, source),
            facts={str(k): str(v) for k, v in _field(data, "facts", dict, source).items()},
            config={str(k): _value_from_json(v) for k, v in _field(data, "config", dict, source).items()},
            kernel_version=_field(kernel, "version", str, source),
            kernel_file=_field(kernel, "file", str, source),
            files=files,
            modules_load=tuple(_field(data, "modules_load", list, source)),
            layout=_field(data, "layout", str, source),
            network=_field(data, "network", dict, source),
            missing={str(k): tuple(v) for k, v in _field(data, "missing", dict, source).items()},
            # absent from manifests written before CLONE_USERS existed: nothing was cloned
            accounts={str(k): tuple(str(x) for x in v) for k, v in data.get("accounts", {}).items()},
            backup_payload=data.get("backup_payload") or {},  # absent in manifests of earlier versions
        )

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot read manifest {path}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise UserError(f"{path} is not a text file (a manifest is JSON)") from exc
        return cls.loads(text, str(path))


def object_path(bundle: Path, sha256: str) -> Path:
    return bundle / "objects" / sha256[:2] / sha256


def sources(manifest: Manifest, bundle: Path | None) -> dict[str, Path]:
    """Where each file's content is read from for a build: the bundle if given, else the host path.

    With a bundle every object must exist and have the recorded size (a hash check of every object is
    `verify_bundle`); without one, every source must exist with the recorded size: a host that changed since
    collect is an error, not a silently different image.
    """
    found: dict[str, Path] = {}
    for record in manifest.files:
        if record.kind is not EntryKind.FILE:
            continue
        if record.sha256 is None or record.source is None:
            raise InternalError(f"validated manifest has file {record.path} without hash or source")
        path = object_path(bundle, record.sha256) if bundle is not None else Path(record.source)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise UserError(
                f"{record.path}: {path} is missing ({exc.strerror})",
                hint="collect the manifest again" if bundle is None else "the bundle is incomplete: collect again",
            ) from exc
        if size != record.size:
            raise UserError(
                f"{record.path}: {path} has {size} bytes, the manifest says {record.size}",
                hint="the file changed since collect: run `rearbuild collect` again",
            )
        found[record.path] = path
    return found


def verify_bundle(manifest: Manifest, bundle: Path) -> None:
    """Hash every object of a bundle: a tampered or damaged file is an error naming it."""
    from rearbuild.checksum import sha256_file

    for record in manifest.files:
        if record.kind is EntryKind.FILE and record.sha256 is not None:
            path = object_path(bundle, record.sha256)
            if not path.exists():
                raise UserError(
                    f"bundle {bundle} lacks {record.path} (object {record.sha256[:12]})",
                    hint="collect the bundle again",
                )
            actual = sha256_file(path)
            if actual != record.sha256:
                raise UserError(
                    f"bundle object of {record.path} does not match its sha256 "
                    f"({actual[:12]} instead of {record.sha256[:12]}): tampered or damaged",
                    hint="collect the bundle again",
                )


def merge(records: Iterable[FileRecord]) -> tuple[FileRecord, ...]:
    """Sorted and unique by path, the reasons of duplicates merged."""
    by_path: dict[str, FileRecord] = {}
    for record in records:
        previous = by_path.get(record.path)
        by_path[record.path] = previous.merged(record) if previous is not None else record
    return tuple(by_path[p] for p in sorted(by_path))


# Variables that describe this run, not the host: leaving them out keeps two collections byte-identical.
RUN_SPECIFIC = frozenset(
    {
        "BUILD_DIR",
        "ROOTFS_DIR",
        "TMP_DIR",
        "VERBOSE",
        "DEBUG",
        "SIMULATE",
        "NON_INTERACTIVE",
        "EXPOSE_SECRETS",
        "WORKFLOW",
    }
)
# Secrets that must never reach a rescue image (ReaR: build/default/960_remove_encryption_keys.sh).
NEVER = frozenset({"BACKUP_PROG_CRYPT_KEY", "BORG_PASSPHRASE"})
# The header line savelayout stamps with the time it ran (rearbuild.layout.disklayout writes it).
_LAYOUT_DATE = "# Disk layout dated"


@dataclass(frozen=True)
class Missing:
    """What the host lacked: recorded in the manifest so a build elsewhere knows, not silently dropped."""

    programs: tuple[str, ...] = ()
    libraries: tuple[str, ...] = ()
    firmware: tuple[str, ...] = ()


def assemble(
    *,
    tool_version: str,
    facts: Mapping[str, str],
    config: Mapping[str, Value],
    kernel_version: str,
    kernel_file: str,
    records: Iterable[FileRecord],
    modules_load: tuple[str, ...],
    layout: str,
    network: Mapping[str, Any],
    missing: Missing,
    accounts: Mapping[str, Sequence[str]] | None = None,
    backup_payload: Mapping[str, Any] | None = None,
) -> Manifest:
    """Everything collected, as one manifest. layout: disklayout.conf's text; its time stamp says when
    savelayout ran, not what the layout is, and is left out so two collections of an unchanged host are equal."""
    layout = "".join(line for line in layout.splitlines(keepends=True) if not line.startswith(_LAYOUT_DATE))
    return Manifest(
        tool_version=tool_version,
        facts=dict(facts),
        config={k: v for k, v in config.items() if k not in RUN_SPECIFIC and k not in NEVER},
        kernel_version=kernel_version,
        kernel_file=kernel_file,
        files=merge(records),
        modules_load=modules_load,
        layout=layout,
        network=network,
        missing={
            "programs": missing.programs,
            "libraries": missing.libraries,
            "firmware": tuple(sorted(missing.firmware)),
        },
        accounts={k: tuple(v) for k, v in (accounts or {}).items() if v},
        backup_payload=dict(backup_payload or {}),
    )
