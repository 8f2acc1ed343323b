"""Logging: one log file per run (ReaR's /var/log/rear/rear-$HOSTNAME.log), the terminal by verbosity.

Levels: the log file gets everything from INFO (DEBUG with -d); the terminal gets NOTICE and above by default,
INFO with -v, DEBUG with -d. NOTICE is ReaR's LogPrint: a message the user always sees and the log keeps.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

NOTICE = 25
logging.addLevelName(NOTICE, "NOTICE")

log = logging.getLogger("rearbuild")


class _Console(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno >= logging.ERROR:
            return f"ERROR: {message}"
        if record.levelno >= logging.WARNING:
            return f"WARNING: {message}"
        return message


def _not_file_only(record: logging.LogRecord) -> bool:
    return not getattr(record, "file_only", False)


def to_file(message: str, *args: object) -> None:
    """For the log file only, whatever the verbosity (tracebacks of user errors)."""
    log.info(message, *args, extra={"file_only": True})


def setup_console(verbosity: int) -> None:
    """verbosity 0: notices, 1 (-v): progress, 2 (-d): debug."""
    root = logging.getLogger("rearbuild")
    root.setLevel(logging.DEBUG)
    root.propagate = False
    for handler in list(root.handlers):
        root.removeHandler(handler)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel({0: NOTICE, 1: logging.INFO}.get(verbosity, logging.DEBUG))
    console.setFormatter(_Console())
    console.addFilter(_not_file_only)
    root.addHandler(console)


def open_logfile(path: Path, *, debug: bool, keep_previous: bool = True) -> logging.Handler:
    """Start the run's log file; the previous run's log is kept as <name>.old."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if keep_previous:
        with contextlib.suppress(FileNotFoundError):  # none yet, or another lockless run moved it a moment ago
            path.replace(path.with_name(path.name + ".old"))
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG if debug else logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%Y-%m-%d %H:%M:%S"))
    logging.getLogger("rearbuild").addHandler(handler)
    return handler


def close_logfile(handler: logging.Handler) -> None:
    logging.getLogger("rearbuild").removeHandler(handler)
    handler.close()


def notice(message: str, *args: object) -> None:
    """Always shown and logged (ReaR's LogPrint)."""
    log.log(NOTICE, message, *args)


@contextlib.contextmanager
def timed(what: str, level: int = logging.INFO) -> Iterator[None]:
    """Log the start and the duration of a step (stages, recipes, long work)."""
    log.log(level, "%s ...", what)
    started = time.monotonic()
    try:
        yield
    finally:
        log.log(level, "%s: %.2f s", what, time.monotonic() - started)


def copy_log(log_file: Path, destination: Path) -> Path:
    """The log of this run so far, copied to destination (its directory made); returns destination."""
    for handler in logging.getLogger("rearbuild").handlers:
        handler.flush()
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(log_file, destination)
    return destination
