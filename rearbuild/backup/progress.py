"""Progress of a long byte stream (backup, restore, checksum): bytes, rate and ETA.

On a terminal one line is redrawn in place (\\r) at most twice a second; otherwise (a log, a serial console
captured by a test) a notice is written at most every `quiet_interval` seconds, so that the log shows the
stream advancing without a line per chunk. The final summary is always a notice.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from rearbuild.log import NOTICE, notice

log = logging.getLogger("rearbuild.progress")


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
        terminal_only: bool = False,
    ) -> None:
        """terminal_only: a step that is quick enough not to need notices in a log or a cron mail (packing,
        ISO writing): off a terminal nothing is shown, and the summary goes to the log only."""
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
        self._terminal_only = terminal_only

    @property
    def done(self) -> int:
        return self._done

    def add(self, chunk: bytes) -> None:
        """A pipeline tap: count the chunk."""
        with self._lock:
            self._done += len(chunk)

    def tap(self, chunk: bytes) -> None:
        """Count the chunk and show the line (for a writer thread that is the only one showing)."""
        self.add(chunk)
        self.show()

    def update(self, done: int, total: int) -> None:
        """Absolute progress from a library that reports it (pycdlib's progress_cb)."""
        with self._lock:
            self._done = done
        self.total = total if total > 0 else None
        self.show()

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
        elif not self._terminal_only and now - self._last_shown >= self._quiet_interval:
            notice("%s", self.line())
            self._last_shown = now

    def finish(self) -> float:
        """Clear the tty line and log the summary; returns the elapsed seconds."""
        elapsed = self._clock() - self._started
        if self._drawn:
            self._stream.write("\r" + " " * 78 + "\r")
            self._stream.flush()
        rate = self._done / elapsed if elapsed > 0 else 0.0
        log.log(logging.INFO if self._terminal_only else NOTICE, "%s: %s in %.1f s (%s/s)", self.label,
                human_bytes(self._done), elapsed, human_bytes(rate))  # fmt: skip
        return elapsed
