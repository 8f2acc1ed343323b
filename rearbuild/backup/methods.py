"""Each backup method's rescue payload (the programs and files it adds to the image), by the BACKUP value: what
`rearbuild dump` shows and the manifest records (issue 14 item 8)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from rearbuild.backup import dp, fdrupstream, netfs, nsr, tsm
from rearbuild.backup.vendor import Payload
from rearbuild.config.model import Config
from rearbuild.manifest import EntryKind, FileRecord


def _netfs(config: Config) -> Payload:
    s = netfs.settings(config, key=netfs.KeyNeed.NONE)
    return Payload(method="NETFS", product="tar", programs=netfs.required_programs(s))


_PAYLOADS: dict[str, Callable[[Config], Payload]] = {
    "NETFS": _netfs,
    "TSM": lambda c: tsm.settings(c).payload,
    "NSR": lambda c: nsr.settings(c).payload,
    "DP": lambda c: dp.settings(c).payload,
    "FDRUPSTREAM": lambda c: fdrupstream.settings(c).payload,
}


def payload_of(config: Config) -> Payload | None:
    """The payload of the configured BACKUP (None for a method that adds nothing, e.g. REQUESTRESTORE)."""
    make = _PAYLOADS.get(config.text("BACKUP").strip())
    return make(config) if make is not None else None


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(path == r.rstrip("/") or path.startswith(r.rstrip("/") + "/") for r in roots if r.startswith("/"))


def in_image(payload: Payload, records: Iterable[FileRecord]) -> Mapping[str, Any]:
    """What of the payload the rescue image holds, from its file records: for the manifest."""
    programs: dict[str, int] = {}
    wanted = {p.rsplit("/", 1)[-1] for p in payload.programs}
    files = size = 0
    for record in records:
        if record.kind is not EntryKind.FILE:
            continue
        name = record.path.rsplit("/", 1)[-1]
        # collect.programs' reason: "program NAME" as PROGS spells it (a name or an absolute path)
        named = {r.split()[1].rsplit("/", 1)[-1] for r in record.reasons if r.startswith("program ")}
        if name in wanted and name in named:
            programs[name] = record.size
        elif _under(record.path, payload.files):
            files += 1
            size += record.size
    return {
        "method": payload.method,
        "programs": dict(sorted(programs.items())),
        "programs_missing": sorted(wanted - set(programs)),
        "files": list(payload.files),
        "file_count": files,
        "bytes": size + sum(programs.values()),
        "ld_library_path": payload.ld_library_path,
    }
