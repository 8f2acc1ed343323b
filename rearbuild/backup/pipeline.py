"""Streams of bytes through external programs, with Python taps between them (progress, sha256, file writes).

    source file ─▶ [tap] ─▶ program 1 ─▶ [tap] ─▶ program 2 ─▶ ... ─▶ [tap] ─▶ sink file

Every program runs through rearbuild.run.run() in its own thread; a junction with a tap is a thread that copies
chunks from one pipe to the next and shows each chunk to the tap. A program that dies closes its pipe ends, so
the programs before it get EPIPE/SIGPIPE and the ones after it get end-of-file: a failure anywhere ends the
whole stream instead of hanging it. The failure reported is the first one that was not a consequence (SIGPIPE).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO

from rearbuild.errors import UserError
from rearbuild.run import CommandError, Result, run

CHUNK = 1 << 20  # bytes per read: large enough that Python's per-chunk cost disappears next to the programs'

Tap = Callable[[bytes], None]


@dataclass(frozen=True)
class Step:
    """One program of a stream. env is not shown (it may carry a key); ok_codes as for run()."""

    argv: tuple[str, ...]
    env: Mapping[str, str] | None = field(default=None, repr=False)
    ok_codes: tuple[int, ...] = (0,)

    @property
    def name(self) -> str:
        return os.path.basename(self.argv[0])


@dataclass
class _Outcome:
    result: Result | None = None
    error: BaseException | None = None


def _pipe() -> tuple[IO[bytes], IO[bytes]]:
    r, w = os.pipe()
    return open(r, "rb", buffering=0), open(w, "wb", buffering=0)


def _close(*files: IO[bytes] | None) -> None:
    for f in files:
        if f is not None:
            with contextlib.suppress(OSError):
                f.close()


def _pump(
    reader: IO[bytes], writer: IO[bytes], tap: Tap | None, outcome: _Outcome, owned: tuple[IO[bytes], ...]
) -> None:
    try:
        while True:
            chunk = reader.read(CHUNK)
            if not chunk:
                break
            if tap is not None:
                tap(chunk)
            writer.write(chunk)
    except BrokenPipeError:
        pass  # the next program ended early; its own status tells why
    except BaseException as exc:
        outcome.error = exc
    finally:
        _close(*owned)


class _Programs:
    """The running programs of a stream, to stop them when rearbuild is interrupted: SIGINT or SIGTERM sent to
    rearbuild's process alone (kill PID, systemd) does not reach them, and tar would run to its end."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: list[subprocess.Popen[bytes]] = []
        self._stopped = False

    def started(self, popen: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._running.append(popen)
            if self._stopped:  # started after stop(): a thread was just starting the program
                popen.kill()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            for popen in self._running:
                with contextlib.suppress(OSError):
                    popen.kill()  # SIGKILL: tar and openssl write nothing more; the .partial is removed anyway


def _program(
    step: Step,
    stdin: IO[bytes] | None,
    stdout: IO[bytes] | None,
    outcome: _Outcome,
    owned: tuple[IO[bytes], ...],
    programs: _Programs,
) -> None:
    try:
        outcome.result = run(
            step.argv, check=False, stdin=stdin, stdout=stdout, env=step.env, started=programs.started
        )
    except BaseException as exc:
        outcome.error = exc
    finally:
        _close(*owned)


def _killed_by_sigpipe(result: Result) -> bool:
    return result.returncode == -signal.SIGPIPE or result.returncode == 128 + signal.SIGPIPE


def stream(
    steps: Sequence[Step],
    *,
    source: IO[bytes] | None = None,
    sink: IO[bytes] | None = None,
    taps: Mapping[int, Tap] | None = None,
    poll: Callable[[], None] | None = None,
    poll_interval: float = 0.5,
) -> tuple[Result, ...]:
    """Run steps connected by pipes; source feeds the first, sink receives the last's output.

    taps: junction number -> observer. Junction 0 is source -> steps[0], junction i is steps[i-1] -> steps[i],
    junction len(steps) is the last step -> sink. poll is called from this thread while the stream runs.
    Returns every step's result (in order) when all exited with an ok code; raises CommandError otherwise.
    """
    if not steps:
        raise ValueError("stream() needs at least one program")
    taps = dict(taps or {})
    if (0 in taps and source is None) or (len(steps) in taps and sink is None):
        raise ValueError("a tap at an end of the stream needs a source/sink there")
    threads: list[threading.Thread] = []
    pumps: list[_Outcome] = []
    programs = [_Outcome() for _ in steps]
    # stdin of each step, and what the parent must close once that step has exited.
    stdins: list[IO[bytes] | None] = [None] * len(steps)
    stdouts: list[IO[bytes] | None] = [None] * len(steps)
    owned: list[list[IO[bytes]]] = [[] for _ in steps]
    for junction in range(len(steps) + 1):
        upstream = junction - 1  # index of the step writing into this junction (-1: the source)
        downstream = junction if junction < len(steps) else None
        tap = taps.get(junction)
        if (upstream < 0 and source is None) or (downstream is None and sink is None):
            continue
        if tap is None and (upstream < 0 or downstream is None):
            # A file at the end of the stream goes straight to the program: no copy.
            if upstream < 0:
                stdins[0] = source
            else:
                stdouts[upstream] = sink
            continue
        if tap is None:
            r, w = _pipe()
            stdouts[upstream], stdins[junction] = w, r
            owned[upstream].append(w)
            owned[junction].append(r)
            continue
        # A tap: the pump thread copies from `reader` to `writer` and closes its own pipe ends.
        outcome = _Outcome()
        pumps.append(outcome)
        pump_owned: list[IO[bytes]] = []
        if upstream < 0:
            reader: IO[bytes] = source  # type: ignore[assignment]  # checked above
        else:
            reader, w = _pipe()
            stdouts[upstream] = w
            owned[upstream].append(w)
            pump_owned.append(reader)
        if downstream is None:
            writer: IO[bytes] = sink  # type: ignore[assignment]  # checked above
        else:
            r, writer = _pipe()
            stdins[downstream] = r
            owned[downstream].append(r)
            pump_owned.append(writer)
        threads.append(
            threading.Thread(target=_pump, args=(reader, writer, tap, outcome, tuple(pump_owned)), daemon=True)
        )
    running = _Programs()
    for i, step in enumerate(steps):
        threads.append(
            threading.Thread(
                target=_program,
                args=(step, stdins[i], stdouts[i], programs[i], tuple(owned[i]), running),
                daemon=True,
            )
        )
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(poll_interval)
                if poll is not None:
                    poll()
    except BaseException:
        # Interrupted (Ctrl-C, SIGTERM as rearbuild.cli.Terminated) or a failing poll: stop the programs now;
        # their deaths close the pipes, which ends the pump threads.
        running.stop()
        raise
    finally:
        for thread in threads:
            thread.join()
    return _verdict(steps, programs, pumps)


def _verdict(steps: Sequence[Step], programs: list[_Outcome], pumps: list[_Outcome]) -> tuple[Result, ...]:
    for outcome in pumps:
        if outcome.error is not None:
            if isinstance(outcome.error, OSError):
                raise UserError(f"the data stream failed: {outcome.error}") from outcome.error
            raise outcome.error
    for outcome in programs:
        if outcome.error is not None:
            raise outcome.error
    results = tuple(o.result for o in programs if o.result is not None)
    failed = [(s, r) for s, r in zip(steps, results, strict=True) if r.returncode not in s.ok_codes]
    if not failed:
        return results
    # A program killed by SIGPIPE only tells that a later one ended early: report the cause first.
    causes = [(s, r) for s, r in failed if not _killed_by_sigpipe(r)] or failed
    step, result = causes[0]
    detail = " | ".join(line.strip() for line in result.err.strip().splitlines()[-3:])
    status = (
        f"was killed by signal {-result.returncode}" if result.returncode < 0 else f"exited with {result.returncode}"
    )
    raise CommandError(f"{step.name} {status}" + (f": {detail}" if detail else ""), result)
