"""Streaming through programs with taps; a failing program is reported, not its victims (backup/pipeline.py)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from rearbuild.backup.pipeline import Step, stream
from rearbuild.run import CommandError


def test_stream_through_programs_with_taps(tmp_path: Path) -> None:
    data = os.urandom(3 << 20)
    out = tmp_path / "out"
    seen: list[int] = []
    with open(out, "wb") as sink:
        stream(
            (Step(("cat",)), Step(("gzip", "-c")), Step(("gzip", "-d", "-c"))),
            source=io.BytesIO(data),
            sink=sink,
            taps={0: lambda c: seen.append(len(c)), 3: lambda c: None},
        )
    assert out.read_bytes() == data and sum(seen) == len(data)


def test_a_failing_program_is_reported_not_its_victims(tmp_path: Path) -> None:
    with open(tmp_path / "out", "wb") as sink, pytest.raises(CommandError) as err:
        stream(
            (Step(("cat", "/dev/zero")), Step(("sh", "-c", "head -c 10 >/dev/null; echo broken >&2; exit 3"))),
            sink=sink,
            taps={1: lambda c: None},
        )
    assert "sh exited with 3" in str(err.value) and "broken" in str(err.value)
