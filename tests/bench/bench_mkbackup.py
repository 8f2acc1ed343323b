#!/usr/bin/env python3
"""rear mkbackuponly (Debian's ReaR 2.7) against rearbuild mkbackuponly on the same tree, with the raw pipelines
`tar | gzip`, `tar | pigz` and `tar | zstd -T0` beside them as the physical limit, in one run.

Run by hand, as root (not part of the test suite):

    .venv/bin/python tests/bench/bench_mkbackup.py [--tree DIR] [--workdir /var/tmp/rearbuild-bench-backup]

The tree (default: made once under the work directory from the cached Debian trees of the test suite,
/var/cache/rearbuild-tests/, plus this host's /usr/lib/x86_64-linux-gnu, ~0.7 GB) is backed up with
BACKUP_ONLY_INCLUDE=y BACKUP_PROG_INCLUDE=( tree ) by both tools, gzip compression (both defaults), into a
loop-mounted ext4 image (ReaR refuses a file:// backup directory on the / file system). rearbuild runs once more
with BACKUP_PROG_COMPRESS=zstd. The page cache is warmed by reading the tree once first, so every run reads from
memory and the figures compare the pipelines, not the disk.

Wall time from perf_counter; CPU time (user + system) of the whole process tree from os.wait4 on the top
process (Linux folds in every waited-for descendant: tar, gzip, pigz, openssl). Throughput = the tree's apparent
size (du --apparent-size) / wall time. The load average before and after is printed: the host is shared.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024
CACHE = Path("/var/cache/rearbuild-tests")
IMAGE_BYTES = 4096 * MIB  # sparse: holds four ~250 MB archives and ReaR's logs


@dataclass
class Measured:
    label: str
    wall: float
    cpu: float
    out_bytes: int
    rc: int


def run(cmd: list[str], **kw: object) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout  # type: ignore[call-overload,no-any-return]


def measure(label: str, cmd: list[str], log: Path, output: Path, env: dict[str, str] | None = None) -> Measured:
    with log.open("wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    size = sum(p.stat().st_size for p in output.rglob("*.tar*") if p.is_file()) if output.is_dir() else 0
    if output.is_file():
        size = output.stat().st_size
    return Measured(label, wall, usage.ru_utime + usage.ru_stime, size, os.waitstatus_to_exitcode(status))


def make_tree(tree: Path) -> None:
    """~0.7 GB of a Debian installation: the test suite's cached trees and this host's shared libraries."""
    if tree.is_dir() and any(tree.iterdir()):
        return
    tree.mkdir(parents=True, exist_ok=True)
    fleet = CACHE / "bookworm-fleet-1"
    if fleet.is_dir():
        run(["cp", "-a", str(fleet), str(tree / "bookworm-fleet")])
    minbase = CACHE / "debian-12-minbase.tar"
    if minbase.is_file():
        (tree / "minbase").mkdir()
        run(["tar", "-xf", str(minbase), "-C", str(tree / "minbase")])
    run(["cp", "-a", "/usr/lib/x86_64-linux-gnu", str(tree / "libs")])


def apparent_bytes(tree: Path) -> int:
    return int(run(["du", "-s", "--apparent-size", "--block-size=1", str(tree)]).split()[0])


def default_kernel() -> str:
    """The newest kernel with modules and a /boot/vmlinuz: ReaR's mkbackuponly still guesses the kernel (the
    running one of this VM has no modules, and ReaR aborts on it)."""
    running = os.uname().release
    if Path("/lib/modules", running).is_dir():
        return running
    found = sorted(p.name for p in Path("/lib/modules").iterdir() if Path("/boot", f"vmlinuz-{p.name}").exists())
    return found[-1] if found else running


def default_rearbuild() -> str:
    beside = Path(sys.executable).parent / "rearbuild"
    return str(beside) if beside.exists() else (shutil.which("rearbuild") or "rearbuild")


def fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/var/tmp/rearbuild-bench-backup"))
    parser.add_argument("--tree", type=Path, default=None)
    parser.add_argument("--rearbuild", default=default_rearbuild())
    args = parser.parse_args()
    work: Path = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    tree: Path = args.tree or work / "tree"
    make_tree(tree)
    size = apparent_bytes(tree)
    files = int(run(["sh", "-c", f"find '{tree}' | wc -l"]).strip())
    run(["tar", "-cf", "/dev/null", "-C", str(tree), "."])  # warm the page cache (and tar's /dev/null shortcut)
    run(["sh", "-c", f"tar -cf - -C '{tree}' . | cat > /dev/null"])
    mnt = work / "mnt"
    image = work / "backup.ext4"
    if os.path.ismount(mnt):
        run(["umount", str(mnt)])
    image.unlink(missing_ok=True)
    with image.open("wb") as f:
        f.truncate(IMAGE_BYTES)
    run(["mkfs.ext4", "-q", "-F", str(image)])
    mnt.mkdir(exist_ok=True)
    run(["mount", "-o", "loop", str(image), str(mnt)])
    rows: list[Measured] = []
    load_before = os.getloadavg()
    try:
        logs = fresh(work / "logs")
        common = (
            "BACKUP=NETFS\nBACKUP_ONLY_INCLUDE=y\n"
            f"BACKUP_PROG_INCLUDE=( '{tree}' )\nBACKUP_PROG_EXCLUDE=()\nNETFS_PREFIX=bench\n"
        )
        rear_dir = fresh(work / "rear")
        for d in ("conf", "tmp"):
            fresh(rear_dir / d)
        # BOOTLOADER: ReaR cannot read /dev/vda here to guess it (mkbackuponly still runs that prep script).
        rear_conf = f"OUTPUT=ISO\nBOOTLOADER=GRUB2\nBACKUP_URL=file://{mnt / 'rear'}\n{common}"
        (rear_dir / "conf/local.conf").write_text(rear_conf)
        fresh(mnt / "rear")
        rows.append(
            measure(
                "rear mkbackuponly (tar | gzip)",
                ["rear", "-c", str(rear_dir / "conf"), "-r", default_kernel(), "mkbackuponly"],
                logs / "rear.log",
                mnt / "rear",
                env=dict(os.environ, TMPDIR=str(rear_dir / "tmp")),
            )
        )
        for label, extra in (("gzip", ""), ("zstd", "BACKUP_PROG_COMPRESS=zstd\n")):
            rb = fresh(work / f"rearbuild-{label}")
            for d in ("conf", "var", "log", "tmp"):
                fresh(rb / d)
            (rb / "conf/local.conf").write_text(f"BACKUP_URL=file://{mnt / rb.name}\n{common}{extra}")
            fresh(mnt / rb.name)
            cmd = [
                args.rearbuild, "-c", str(rb / "conf"), "--var-dir", str(rb / "var"), "--log-dir", str(rb / "log"),
                "--tmpdir", str(rb / "tmp"), "-n", "mkbackuponly",
            ]  # fmt: skip
            program = "pigz" if label == "gzip" and shutil.which("pigz") else label
            rows.append(measure(f"rearbuild mkbackuponly ({program})", cmd, logs / f"{rb.name}.log", mnt / rb.name))
        for label, compressor in (
            ("raw tar | gzip", "gzip -c"),
            ("raw tar | pigz", "pigz -c"),
            ("raw tar | zstd -T0 (level 3)", "zstd -q -c -T0"),
        ):
            out = mnt / f"raw-{compressor.split()[0]}.tar"
            cmd = ["bash", "-c", f"set -o pipefail; tar -cf - -C '{tree}' . | {compressor} > '{out}'"]
            rows.append(measure(label, cmd, logs / f"raw-{compressor.split()[0]}.log", out))
    finally:
        load_after = os.getloadavg()
        run(["umount", str(mnt)])
    print(f"tree {tree}: {size / MIB:.0f} MiB apparent, {files} entries; {os.cpu_count()} CPUs")
    print(f"load average before {load_before[0]:.2f} {load_before[1]:.2f}, after {load_after[0]:.2f}")
    print(f"{'run':38} {'rc':>3} {'wall s':>7} {'CPU s':>7} {'MiB/s':>7} {'out MiB':>8}")
    for m in rows:
        print(f"{m.label:38} {m.rc:3d} {m.wall:7.1f} {m.cpu:7.1f} {size / MIB / m.wall:7.1f} {m.out_bytes / MIB:8.1f}")
    return 0 if all(m.rc == 0 for m in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
