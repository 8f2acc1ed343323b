"""Replaying the real recordings of QEMU guests (tests/fixtures/capture/<scenario>, made by
tests/fixtures/capture/record/record.py), a probe where only lsblk and findmnt answer, and lookups in a layout."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

from rearbuild.collect.disk.capture import capture
from rearbuild.collect.disk.probe import RecordedProbe
from rearbuild.layout.deps import creation_order
from rearbuild.layout.model import Layout

T = TypeVar("T")

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "capture"
SCENARIOS = sorted(p.name for p in FIXTURES.iterdir() if (p / "index.json").is_file())


def replay(name: str) -> Layout:
    probe = RecordedProbe(FIXTURES / name)
    layout = capture(probe)
    # A recording holds every invocation capture makes: nothing may be missing.
    assert probe.missing == []
    return layout


def of(layout: Layout, kind: type[T]) -> list[T]:
    return [r for r in layout.active if isinstance(r, kind)]


def one(layout: Layout, kind: type[T], **match: object) -> T:
    found = [r for r in of(layout, kind) if all(getattr(r, k) == v for k, v in match.items())]
    assert len(found) == 1, (kind.__name__, match, found)
    return found[0]


def order(layout: Layout) -> list[str]:
    return [c.name for c in creation_order(layout)]


def before(names: list[str], first: str, then: str) -> bool:
    return names.index(first) < names.index(then)


class FakeProbe:
    """Only lsblk and findmnt answer: every other tool is missing or may not open the device."""

    def __init__(self, lsblk: list[dict[str, object]], mounts: list[dict[str, str]]) -> None:
        self.lsblk = json.dumps({"blockdevices": lsblk})
        self.mounts = json.dumps({"filesystems": mounts})

    def command(self, argv: Sequence[str]) -> str | None:
        return {"lsblk": self.lsblk, "findmnt": self.mounts}.get(argv[0])

    def read(self, path: str) -> str | None:
        return None


def dev(name: str, kind: str, parent: str | None = None) -> dict[str, object]:
    return {"name": name, "kname": name, "pkname": parent, "type": kind, "size": 10 * 1024**3}
