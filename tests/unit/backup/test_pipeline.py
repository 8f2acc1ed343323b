"""Streaming through programs with taps; a failing program is reported, not its victims (backup/pipeline.py)."""

from __future__ import annotations

import io
import os
import signal
import time
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


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_an_interrupt_stops_the_programs_at_once(tmp_path: Path) -> None:
    """SIGINT/SIGTERM reach only rearbuild's own process (kill PID): the stream must not wait for its programs."""
    pids = tmp_path / "pids"
    steps = [
        Step(("sh", "-c", f"echo $$ >> {pids}; exec sleep 30")),
        Step(("sh", "-c", f"echo $$ >> {pids}; exec sleep 30")),
    ]

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            stream(steps, sink=io.BytesIO(), taps={2: lambda chunk: None})
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert time.monotonic() - started < 5
    children = [int(p) for p in pids.read_text().split()]
    assert len(children) == 2 and not any(_alive(p) for p in children)
