"""Logging: one log file per run (ReaR's /var/log/rear/rear-$HOSTNAME.log), the terminal by verbosity.

Levels: the log file gets everything from INFO (DEBUG with -d); the terminal gets NOTICE and above by default,
INFO with -v, DEBUG with -d. NOTICE is ReaR's LogPrint: a message the user always sees and the log keeps.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from rearbuild.recover import target

NOTICE = 25
logging.addLevelName(NOTICE, "NOTICE")

log = logging.getLogger("rearbuild")


# C0 controls but tab and newline, DEL, and the C1 controls U+0080..U+009F (CSI among them): a line of binary
# garbage quoted in an error must not send escape sequences to the terminal. (Progress writes its \r directly.)
_CONTROLS = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)] if chr(c) not in "\t\n"}


def printable(text: str) -> str:
    """Text safe to write as UTF-8 and show on a terminal: a byte that is not UTF-8 (values and output are read
    with surrogateescape) or a control character becomes \\xNN, not an encoding error in the middle of logging."""
    try:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate surrogateescape did not make (U+D800..U+DC7F)
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text.translate(_CONTROLS)


class _File(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))


class _Console(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = printable(record.getMessage())
        if record.levelno >= logging.ERROR:
            return f"ERROR: {message}"
        if record.levelno >= logging.WARNING:
            return f"WARNING: {message}"
        return message


def _not_file_only(record: logging.LogRecord) -> bool:
    return not getattr(record, "file_only", False)


_console: logging.Handler | None = None


def _below_error(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.ERROR


@contextlib.contextmanager
def console_errors_only(enabled: bool = True) -> Iterator[None]:
    """While it lasts, warnings and notices reach only the log file (a quiet workflow's known facts)."""
    console = _console
    if not enabled or console is None or console.level <= logging.INFO:  # -v/-d: the user asked to see them
        yield
        return
    console.addFilter(_below_error)
    try:
        yield
    finally:
        console.removeFilter(_below_error)


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
    global _console
    _console = console


def open_logfile(path: Path, *, debug: bool, keep_previous: bool = True) -> logging.Handler:
    """Start the run's log file; the previous run's log is kept as <name>.old."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if keep_previous:
        with contextlib.suppress(FileNotFoundError):  # none yet, or another lockless run moved it a moment ago
            path.replace(path.with_name(path.name + ".old"))
    # errors=: the formatter already escapes bytes; this only guards against a lone surrogate it did not produce
    handler = logging.FileHandler(path, encoding="utf-8", errors="backslashreplace")
    handler.setLevel(logging.DEBUG if debug else logging.INFO)
    handler.setFormatter(_File("%(asctime)s %(levelname)-7s %(message)s", "%Y-%m-%d %H:%M:%S"))
    logging.getLogger("rearbuild").addHandler(handler)
    return handler


def close_logfile(handler: logging.Handler) -> None:
    logging.getLogger("rearbuild").removeHandler(handler)
    handler.close()


def notice(message: str, *args: object) -> None:
    """Always shown and logged (ReaR's LogPrint)."""
    log.log(NOTICE, message, *args)


@contextlib.contextmanager
def timed(what: str, level: int = logging.INFO, *, file_only: bool = False) -> Iterator[None]:
    """Log the start and the duration of a step (stages, recipes, long work); file_only: not on the terminal."""
    extra = {"file_only": True} if file_only else None
    log.log(level, "%s ...", what, extra=extra)
    started = time.monotonic()
    try:
        yield
    finally:
        log.log(level, "%s: %.2f s", what, time.monotonic() - started, extra=extra)


def _flush() -> None:
    for handler in logging.getLogger("rearbuild").handlers:
        handler.flush()


def copy_log(log_file: Path, destination: Path) -> Path:
    """The log of this run so far, copied to destination (its directory made); returns destination."""
    _flush()
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(log_file, destination)
    return destination


def save_log_as(log_file: Path, wanted: str) -> Path | None:
    """ReaR's LOGFILE: the run logs to $LOG_DIR/rear-$HOSTNAME.log, and at its end the log is saved under the name
    the configuration gives, when that differs (usr/sbin/rear, "Saving $RUNTIME_LOGFILE as $LOGFILE"). Something
    that exists and is no regular file (/dev/null) is left alone, as ReaR does. 0600: the log names disks and
    paths. Returns where it went, or None."""
    destination = Path(wanted.strip()) if wanted.strip() else None
    if destination is None or destination.absolute() == log_file.absolute():
        return None
    if destination.exists() and not destination.is_file():
        return None
    _flush()
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.unlink(missing_ok=True)
        fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(log_file.read_bytes())
    except OSError as exc:
        log.warning("the log was not saved as LOGFILE=%s: %s", destination, exc.strerror)
        return None
    log.info("log saved as %s (LOGFILE)", destination)
    return destination


def copy_log_below(log_file: Path, root: Path, relative: str) -> Path | None:
    """The log of this run so far, written to relative (e.g. var/log/rear/x.log) in the recovered system at
    root, resolved as a chroot of root would (recover.target): the restored system's links never lead it out of
    root. Returns where it went, or None (with a warning) when it could not go there: the recovery is done."""
    _flush()
    try:
        # 0600: the log names disks, devices and paths of the recovered system, for root only
        return target.write_file(root, relative, log_file.read_bytes(), mode=0o600)
    except OSError as exc:
        log.warning("the recovery log was not copied to %s in %s: %s", relative, root, exc)
        return None
