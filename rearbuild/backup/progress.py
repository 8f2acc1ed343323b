"""Progress of a long byte stream (backup, restore, checksum): bytes, rate and ETA.

On a terminal one line is redrawn in place (\\r) at most twice a second; otherwise (a log, a serial console
captured by a test) a notice is written at most every `quiet_interval` seconds, so that the log shows the
stream advancing without a line per chunk. The final summary is always a notice.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from rearbuild.log import notice


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def human_duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


class Progress:
    """Count bytes (from any thread) and show them (from the waiting thread, through show())."""

    def __init__(
        self,
        label: str,
        total: int | None,
        *,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        quiet_interval: float = 30.0,
    ) -> None:
        self.label = label
        self.total = total if total and total > 0 else None
        self._stream = stream if stream is not None else sys.stderr
        self._tty = self._stream.isatty()
        self._clock = clock
        self._quiet_interval = quiet_interval
        self._lock = threading.Lock()
        self._done = 0
        self._started = clock()
        self._last_shown = self._started
        self._drawn = False

    @property
    def done(self) -> int:
        return self._done

    def add(self, chunk: bytes) -> None:
        """A pipeline tap: count the chunk."""
        with self._lock:
            self._done += len(chunk)

    def line(self) -> str:
        elapsed = max(self._clock() - self._started, 1e-6)
        rate = self._done / elapsed
        text = f"{self.label}: {human_bytes(self._done)}"
        if self.total:
            text += f" of ~{human_bytes(self.total)} ({min(100 * self._done / self.total, 99.9):.0f}%)"
        text += f", {human_bytes(rate)}/s"
        if self.total and rate > 0 and self._done < self.total:
            text += f", ETA {human_duration((self.total - self._done) / rate)}"
        return text

    def show(self) -> None:
        now = self._clock()
        if self._tty:
            if now - self._last_shown >= 0.5:
                self._stream.write("\r" + self.line().ljust(78)[:120])
                self._stream.flush()
                self._drawn = True
                self._last_shown = now
        elif now - self._last_shown >= self._quiet_interval:
            notice("%s", self.line())
            self._last_shown = now

    def finish(self) -> float:
        """Clear the tty line and log the summary; returns the elapsed seconds."""
        elapsed = self._clock() - self._started
        if self._drawn:
            self._stream.write("\r" + " " * 78 + "\r")
            self._stream.flush()
        rate = self._done / elapsed if elapsed > 0 else 0.0
        notice("%s: %s in %.1f s (%s/s)", self.label, human_bytes(self._done), elapsed, human_bytes(rate))
        return elapsed
