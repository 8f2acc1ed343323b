"""The progress line (backup/progress.py)."""

from __future__ import annotations

import io

from rearbuild.backup.progress import Progress


def test_progress_line_has_rate_and_eta() -> None:
    now = [100.0]
    progress = Progress("backup", 1000 * 2**10, stream=io.StringIO(), clock=lambda: now[0])
    progress.add(b"x" * (250 * 2**10))
    now[0] += 10
    line = progress.line()
    assert "250.0 KiB" in line and "25.0 KiB/s" in line and "ETA 0:00:30" in line and "(25%)" in line
