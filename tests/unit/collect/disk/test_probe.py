"""Recordings replay completely and their files are named by slug()."""

from __future__ import annotations

import json

import pytest

from rearbuild.collect.disk.probe import slug
from tests.unit.collect.disk.helpers import FIXTURES, SCENARIOS, replay


@pytest.mark.parametrize("name", SCENARIOS)
def test_recordings_are_complete_and_named_readably(name: str) -> None:
    replay(name)
    for entry in json.loads((FIXTURES / name / "index.json").read_text()):
        assert entry["output"] == slug(entry.get("argv"), entry.get("file")) + ".out"
