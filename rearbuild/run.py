"""The one wrapper for external commands.

Every program rearbuild starts goes through run(): it logs the argv (shell-quoted, so a user can paste it),
the exit status and, in -D mode, the output; a failure becomes a UserError that names the command, its exit
status or signal and the last lines it printed, so nobody has to rerun with set -x to see what broke.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import IO

from rearbuild.errors import UserError

log = logging.getLogger("rearbuild.run")

StrPath = str | os.PathLike[str]

_FILE_ONLY = {"file_only": True}  # see rearbuild.log: kept off the terminal

# Set by the command line for -D: log what every command printed, not only its argv and status.
_trace_output = False


def set_trace_output(enabled: bool) -> None:
    global _trace_output
    _trace_output = enabled


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def out(self) -> str:
        return self.stdout.decode("utf-8", "surrogateescape")

    @property
    def err(self) -> str:
        return self.stderr.decode("utf-8", "surrogateescape")


class CommandError(UserError):
    """An external command failed; carries its result for callers that want to look closer."""

    def __init__(self, message: str, result: Result | None, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.result = result


def _describe_status(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with status {returncode}"


def _tail(data: bytes, lines: int = 3) -> str:
    text = data.decode("utf-8", "replace").strip().splitlines()
    return " | ".join(line.strip() for line in text[-lines:])


def run(
    argv: Sequence[StrPath],
    *,
    check: bool = True,
    input: bytes | str | None = None,
    stdin: IO[bytes] | None = None,
    stdout: IO[bytes] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: StrPath | None = None,
    timeout: float | None = None,
    ok_codes: Collection[int] = (0,),
    hint: str | None = None,
    started: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> Result:
    """Run argv (never through a shell) and return its result.

    stdin: a binary file to read standard input from (for large inputs); exclusive with input.
    stdout: a binary file to stream standard output into instead of capturing it (for large outputs).
    ok_codes: exit statuses that count as success when check is true (e.g. tar's 1, "files changed").
    started: told the process once it runs (a stream stops its programs with it when the run is interrupted).
    """
    args = tuple(os.fspath(a) for a in argv)
    if not args:
        raise ValueError("run() needs a command")
    cmdline = shlex.join(args)
    # Commands go to the log file, not to the -v console; a long argv (a generated script) is cut unless -D.
    shown = cmdline if _trace_output or len(cmdline) <= 600 else cmdline[:600] + f"... ({len(cmdline)} chars)"
    # -D: the trace of the run shows every command on the terminal too (rearbuild's `set -x`)
    log.info("run: %s", shown, extra=None if _trace_output else _FILE_ONLY)
    data = input.encode() if isinstance(input, str) else input
    if data is not None and stdin is not None:
        raise ValueError("run() takes input or stdin, not both")
    began = time.monotonic()
    try:
        with subprocess.Popen(
            args,
            stdin=stdin if stdin is not None else (subprocess.DEVNULL if data is None else subprocess.PIPE),
            stdout=stdout if stdout is not None else subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env) if env is not None else None,
            cwd=os.fspath(cwd) if cwd is not None else None,
        ) as popen:
            if started is not None:
                started(popen)
            try:
                out, err = popen.communicate(data, timeout=timeout)
            except BaseException:
                popen.kill()  # what subprocess.run does: a timeout or an interrupt leaves no program behind
                popen.wait()
                raise
        proc = subprocess.CompletedProcess(args, popen.returncode, out, err)
    except FileNotFoundError as exc:
        if cwd is not None and not os.path.isdir(cwd):
            raise UserError(f"cannot run {args[0]}: directory {os.fspath(cwd)} does not exist") from exc
        raise CommandError(
            f"program {args[0]!r} not found",
            None,
            hint=hint or "install the package that provides it, or add its directory to PATH",
        ) from exc
    except PermissionError as exc:
        raise CommandError(f"program {args[0]!r} is not executable: {exc}", None, hint=hint) from exc
    except subprocess.TimeoutExpired as exc:
        raise CommandError(f"{cmdline} did not finish within {timeout} s", None, hint=hint) from exc
    result = Result(args, proc.returncode, proc.stdout or b"", proc.stderr or b"")
    elapsed = time.monotonic() - began
    log.info("run: %s %s after %.3f s", args[0], _describe_status(result.returncode), elapsed, extra=_FILE_ONLY)
    if _trace_output:
        if result.stdout:
            log.debug("stdout of %s:\n%s", args[0], result.out.rstrip(), extra=_FILE_ONLY)
        if result.stderr:
            log.debug("stderr of %s:\n%s", args[0], result.err.rstrip(), extra=_FILE_ONLY)
    elif result.returncode not in ok_codes and result.stderr:
        log.info("stderr of %s:\n%s", args[0], result.err.rstrip(), extra=_FILE_ONLY)
    if check and result.returncode not in ok_codes:
        detail = _tail(result.stderr) or _tail(result.stdout)
        message = f"{cmdline} {_describe_status(result.returncode)}"
        if detail:
            message += f": {detail}"
        raise CommandError(message, result, hint=hint)
    return result


def run_interactive(argv: Sequence[StrPath], *, cwd: StrPath | None = None) -> int:
    """Run argv on the terminal (standard input, output and error inherited) and return its exit status: for
    programs a person uses (the shell workflow), which must not be captured."""
    args = tuple(os.fspath(a) for a in argv)
    log.info("run: %s", shlex.join(args), extra=None if _trace_output else _FILE_ONLY)
    try:
        status = subprocess.call(args, cwd=os.fspath(cwd) if cwd is not None else None)
    except FileNotFoundError as exc:
        raise CommandError(f"program {args[0]!r} not found", None) from exc
    log.info("run: %s %s", args[0], _describe_status(status), extra=None if _trace_output else _FILE_ONLY)
    return status
