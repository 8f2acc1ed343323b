#!/usr/bin/env python3
"""rearbuild collect against ReaR's approach to libraries: `ldd` once per program file.

Run by hand, as root (not part of the test suite):

    .venv/bin/python tests/bench/bench_collect.py [--runs 3] [--workdir /var/tmp/rearbuild-bench]

Workloads, alternated in each run:
  - `rearbuild collect -o FILE` with its own config/var/log/tmp directories, cold (empty var dir) and warm (the var
    dir of the cold run kept, as on a real host);
  - `ldd` once per program file that rearbuild's manifest lists as a program (a "program ..." reason), the way ReaR
    resolves libraries (a bash loop: `for f; do ldd "$f"; done`);
  - the same over every ELF file in /usr/bin and /usr/sbin (symlinks resolved, each file once).

Wall time and peak memory come from the timed runs; peak memory is ru_maxrss of os.wait4() on the top process,
which Linux folds over every waited-for descendant: the largest RSS of any single process of the run (what
`/usr/bin/time -v` prints), not a sum. Processes are counted in one extra, untimed run of each workload under
`strace -f -e trace=fork,vfork,clone,clone3,execve`: "processes" = fork/vfork/clone/clone3 calls without CLONE_THREAD
(threads are not processes), "execs" = successful execve calls, both without the workload's own top process.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

LDD_LOOP = 'for f; do ldd "$f"; done >/dev/null 2>&1'


@dataclass
class Measured:
    wall: float  # seconds
    maxrss_kib: int  # largest RSS of any process of the run, KiB
    rc: int


def measure(cmd: list[str], log: Path) -> Measured:
    """Run cmd with output to log; wall time and the peak RSS of its process tree (os.wait4 on the top process)."""
    with log.open("wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measured(wall, usage.ru_maxrss, proc.returncode)


CREATE = re.compile(r"^\d+\s+(clone3?|fork|vfork)\(")
EXEC_DONE = re.compile(r"^\d+\s+(execve\(.*\)|<\.\.\. execve resumed>.*\))\s+= 0$")


def count_processes(cmd: list[str], trace: Path) -> tuple[int, int]:
    """(processes created, successful execs) by cmd and its descendants, the top process not counted."""
    subprocess.run(
        ["strace", "-f", "-qq", "-e", "signal=none", "-e", "trace=fork,vfork,clone,clone3,execve", "-o", str(trace),
         *cmd],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    created = execs = 0
    for line in trace.read_text(errors="replace").splitlines():
        # the flags are on the first (possibly "<unfinished ...>") line of a call; "resumed" lines carry no name
        if CREATE.match(line) and "CLONE_THREAD" not in line:
            created += 1
        elif EXEC_DONE.match(line):
            execs += 1
    return created, execs - 1


def manifest_programs(manifest: Path) -> list[str]:
    """Regular files that the manifest lists for a "program ..." reason (not as a library of one)."""
    data = json.loads(manifest.read_text())
    return sorted(
        e["path"]
        for e in data["files"]
        if e.get("kind") == "file" and any(r.startswith("program ") for r in e.get("reasons", []))
    )


def elf_files(*dirs: str) -> list[str]:
    seen: set[str] = set()
    for d in dirs:
        for entry in sorted(os.scandir(d), key=lambda e: e.name):
            real = os.path.realpath(entry.path)
            if real in seen or not os.path.isfile(real):
                continue
            try:
                with open(real, "rb") as f:
                    if f.read(4) == b"\x7fELF":
                        seen.add(real)
            except OSError:
                continue
    return sorted(seen)


def fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def default_rearbuild() -> str:
    beside = Path(sys.executable).parent / "rearbuild"
    return str(beside) if beside.exists() else (shutil.which("rearbuild") or "rearbuild")


@dataclass
class Workload:
    name: str
    files: int | None
    cmd: list[str]
    before: Callable[[], None] = lambda: None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="alternated rounds of all workloads (default 3)")
    ap.add_argument("--workdir", type=Path, default=Path("/var/tmp/rearbuild-bench"), help="scratch directory")
    ap.add_argument("--rearbuild", default=default_rearbuild(), help="rearbuild command (default: beside python)")
    args = ap.parse_args()
    for tool in ("ldd", "strace", "bash"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is needed (apt-get install {tool})")
    work = args.workdir.absolute() / "collect"
    conf, var, logdir, tmp, logs = (fresh(work / d) for d in ("conf", "var", "log", "tmp", "logs"))
    (conf / "local.conf").write_text("")
    manifest = work / "manifest.json"

    def cold_start() -> None:
        fresh(var)

    def rb(out: Path) -> list[str]:
        return [
            args.rearbuild, "-c", str(conf), "--var-dir", str(var), "--log-dir", str(logdir), "--tmpdir", str(tmp),
            "-n", "collect", "-o", str(out),
        ]  # fmt: skip

    # the program list comes from a collect run of its own (not timed)
    first = measure(rb(manifest), logs / "list.log")
    if first.rc != 0:
        sys.exit(f"rearbuild collect failed ({first.rc}): {logs / 'list.log'}")
    programs = manifest_programs(manifest)
    elves = elf_files("/usr/bin", "/usr/sbin")
    workloads = [
        Workload("rearbuild collect (cold)", None, rb(work / "cold.json"), cold_start),
        Workload("rearbuild collect (warm)", None, rb(work / "warm.json")),
        Workload("ldd per program file", len(programs), ["bash", "-c", LDD_LOOP, "ldd-loop", *programs]),
        Workload("ldd per ELF in /usr/{s,}bin", len(elves), ["bash", "-c", LDD_LOOP, "ldd-loop", *elves]),
    ]
    print(f"rearbuild: {' '.join(rb(Path('FILE')))}")
    print(f"ldd loop:  bash -c '{LDD_LOOP}' ldd-loop FILES...")
    print(f"{len(programs)} program files in the manifest, {len(elves)} ELF files in /usr/bin + /usr/sbin")
    print("peak RSS: ru_maxrss of os.wait4() on the top process = largest single process of the tree\n", flush=True)

    results: dict[str, list[Measured]] = {w.name: [] for w in workloads}
    for i in range(1, args.runs + 1):
        # alternate: the cold/warm pair stays in order (warm needs the cold run's var dir), the ldd loops swap sides
        order = workloads if i % 2 else [workloads[2], workloads[3], workloads[0], workloads[1]]
        for w in order:
            w.before()
            m = measure(w.cmd, logs / f"{w.name.split()[0]}-{len(results[w.name])}.log")
            if m.rc != 0 and w.files is None:
                sys.exit(f"{w.name} failed ({m.rc}); see {logs}")
            results[w.name].append(m)
            print(f"  run {i}: {w.name:<28} {m.wall:7.2f} s", flush=True)

    counts: dict[str, tuple[int, int]] = {}
    for n, w in enumerate(workloads):
        w.before()
        counts[w.name] = count_processes(w.cmd, work / f"strace-{n}.txt")

    print()
    header = (
        f"{'workload':<29} {'files':>6} {'run':>6} {'wall s':>8} {'peak RSS MiB':>13} {'processes':>10} {'execs':>7}"
    )
    print(header)
    for w in workloads:
        procs, execs = counts[w.name]
        files = "" if w.files is None else str(w.files)
        for i, m in enumerate(results[w.name], 1):
            print(f"{w.name:<29} {files:>6} {i:>6} {m.wall:8.2f} {m.maxrss_kib / 1024:13.1f} {procs:>10} {execs:>7}")
    print()
    print(header.replace("   run", "      "))
    med: dict[str, tuple[float, float]] = {}
    for w in workloads:
        procs, execs = counts[w.name]
        wall = statistics.median(m.wall for m in results[w.name])
        rss = statistics.median(m.maxrss_kib for m in results[w.name]) / 1024
        med[w.name] = (wall, rss)
        files = "" if w.files is None else str(w.files)
        print(f"{w.name:<29} {files:>6} {'median':>6} {wall:8.2f} {rss:13.1f} {procs:>10} {execs:>7}")
    print()
    ldd_progs = med[workloads[2].name]
    for w in workloads[:2]:
        wall, rss = med[w.name]
        print(f"ldd per program file / {w.name}: wall {ldd_progs[0] / wall:.2f}x, peak RSS {ldd_progs[1] / rss:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
