"""Where capture gets its facts: the output of a tool invocation or the text of a file, or "failed".

HostProbe asks this machine (through rearbuild.run, the one command wrapper); RecordedProbe replays a
directory recorded on another machine (tests/fixtures/capture/<scenario>/), so that capture can be tested
purely against real systems we cannot build on the test host (LVM, MD RAID and LUKS need device-mapper and
md, which only QEMU guests have here).

A recording is a directory with `index.json` (a list of {"argv": [...]} or {"file": path} entries, each
with "output": the name of the file holding what was printed, "status": the exit status, 0 for a file that
was read, null for one that could not be) and one output file per entry, named by `slug()`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from rearbuild.errors import UserError
from rearbuild.run import CommandError, run

log = logging.getLogger("rearbuild.collect.disk.probe")

INDEX = "index.json"

# Generous: under QEMU's TCG a blkid over a dozen devices takes seconds; a hung device should not hang us.
_TIMEOUT_S = 120.0


class Probe(Protocol):
    """The facts source of capture. Both methods return None for "failed" and log why."""

    def command(self, argv: Sequence[str]) -> str | None: ...

    def read(self, path: str) -> str | None: ...


def slug(argv: Sequence[str] | None = None, file: str | None = None) -> str:
    """A readable file name for an invocation: `sfdisk_--json_dev-vda`, `file_proc-swaps`."""
    words = list(argv) if argv is not None else ["file", file or ""]
    text = "_".join(re.sub(r"[^A-Za-z0-9.,:=+-]+", "-", w).strip("-") or "-" for w in words)
    # File names are limited to 255 bytes (most Linux file systems); long -o lists make long slugs.
    return text[:200]


class HostProbe:
    """This machine's tools and files. Missing programs and failing commands give None, never raise."""

    def command(self, argv: Sequence[str]) -> str | None:
        try:
            return run(argv, timeout=_TIMEOUT_S).out
        except CommandError as exc:
            log.info("%s", exc.message)
            return None

    def read(self, path: str) -> str | None:
        try:
            return Path(path).read_text(encoding="utf-8", errors="surrogateescape")
        except OSError as exc:
            log.info("cannot read %s: %s", path, exc)
            return None


@dataclass(frozen=True)
class _Key:
    argv: tuple[str, ...] | None
    file: str | None


@dataclass
class RecordedProbe:
    """Replays a recording. What was not recorded counts as failed and is remembered in `missing`."""

    directory: Path
    missing: list[_Key] = field(default_factory=list)
    _entries: dict[_Key, str | None] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        index = self.directory / INDEX
        try:
            entries = json.loads(index.read_text())
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot read the recording index {index}: {exc}") from None
        for entry in entries:
            argv = entry.get("argv")
            key = _Key(tuple(argv) if argv is not None else None, entry.get("file"))
            ok = entry.get("status") == 0
            self._entries[key] = (self.directory / entry["output"]).read_text() if ok else None

    def _get(self, key: _Key) -> str | None:
        if key not in self._entries:
            self.missing.append(key)
            log.info("not recorded: %s", key.argv or key.file)
            return None
        return self._entries[key]

    def command(self, argv: Sequence[str]) -> str | None:
        return self._get(_Key(tuple(argv), None))

    def read(self, path: str) -> str | None:
        return self._get(_Key(None, path))


Recorded = tuple[Sequence[str] | None, str | None, int | None, str]


def write_recording(directory: Path, outputs: Sequence[Recorded]) -> None:
    """Store (argv, file, status, output) tuples as a recording RecordedProbe can replay."""
    directory.mkdir(parents=True, exist_ok=True)
    index: list[dict[str, object]] = []
    for argv, file, status, output in outputs:
        name = slug(argv, file) + ".out"
        (directory / name).write_text(output)
        entry: dict[str, object] = {"argv": list(argv)} if argv is not None else {"file": file}
        entry.update(output=name, status=status)
        index.append(entry)
    index.sort(key=lambda e: str(e["output"]))
    (directory / INDEX).write_text(json.dumps(index, indent=1) + "\n")
