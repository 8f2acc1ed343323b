#!/usr/bin/env python3
"""rear mkrescue (Debian's ReaR 2.7) against rearbuild mkrescue on this host, run alternately.

Run by hand, as root (not part of the test suite):

    .venv/bin/python tests/bench/bench_mkrescue.py [--runs 3] [--workdir /var/tmp/rearbuild-bench]

Installs Debian's `rear` package when it is missing. Both tools get OUTPUT=ISO with results written into directories
under the work directory, and BACKUP=NETFS with BACKUP_URL on a loop-mounted ext4 image there (ReaR refuses a file://
backup directory on the / file system; --backup REQUESTRESTORE drops the backup configuration and the loop mount).
ReaR gets its own configuration directory (rear -c), `-r <kernel version>` (the running kernel has no modules here)
and BOOTLOADER=GRUB2 (it cannot guess the bootloader of /dev/vda here); it still writes /var/lib/rear (layout) and
/var/log/rear, as it always does. rearbuild gets its own config/var/log/tmp directories and does not touch /etc/rear,
/var/lib/rear or /var/log/rear.

First one cold rearbuild run (empty var dir), reported on its own line; then --runs pairs `rear`, `rearbuild`, where
rearbuild keeps its var dir (and the cache in it) between runs, as on a real host. The page cache is warm for both
tools after the first run: "cold" means rearbuild's own cache only.

Peak memory is the ru_maxrss that os.wait4() returns for the tool's top process: Linux folds into it the maxima of
every descendant that was waited for, so it is the largest RSS of any single process of the run (what
`/usr/bin/time -v` prints), not a sum; a descendant that daemonized and was reparented is not counted (neither tool
leaves one behind). getrusage(RUSAGE_CHILDREN) deltas would be wrong for a maximum: it only ever grows.

Initrd: /isolinux/initrd.cgz read out of each ISO with xorriso -osirrox; ReaR's is gzip, rearbuild's several zstd
frames (one per segment) with zero padding to 4 bytes between them, which `zstd -dc` refuses ("unsupported
format"): the frames are cut out by parsing the zstd frame format, concatenated without the padding and decompressed
with `zstd -dc`; the cpio (newc) stream, several archives separated by zero padding, is listed here.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

MIB = 1024 * 1024
# Module classes that rearbuild promises to carry in full (relative to /lib/modules/<kver>/kernel).
MODULE_CLASSES = (
    "drivers/block",
    "drivers/ata",
    "drivers/scsi",
    "drivers/md",
    "drivers/nvme",
    "drivers/net/ethernet",
    "drivers/virtio",
    "drivers/usb/storage",
    "drivers/input",
    "fs",
    "crypto",
)
MODULE_SUFFIXES = (".ko", ".ko.xz", ".ko.zst", ".ko.gz")
# A failed run is retried (the host is shared: see the note printed with the table).
ATTEMPTS = 3
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
GZIP_MAGIC = b"\x1f\x8b"


# ---- running and measuring ------------------------------------------------------------------------------------------


@dataclass
class Measured:
    wall: float  # seconds
    maxrss_kib: int  # largest RSS of any process of the run, KiB
    rc: int


def measure(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> Measured:
    """Run cmd with output to log; wall time and the peak RSS of its process tree (os.wait4 on the top process)."""
    with log.open("wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measured(wall, usage.ru_maxrss, proc.returncode)


def run(cmd: list[str]) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


# ---- initrd contents -----------------------------------------------------------------------------------------------


def zstd_frames(data: bytes) -> tuple[list[tuple[int, int]], int]:
    """(start, end) of every zstd frame in data, and the number of zero padding bytes between them.

    Frame format: RFC 8878 section 3.1.1. Skippable frames (magic 0x184D2A5?) are skipped too.
    """
    frames: list[tuple[int, int]] = []
    padding = 0
    pos = 0
    while pos < len(data):
        if data[pos] == 0:
            padding += 1
            pos += 1
            continue
        start = pos
        magic = int.from_bytes(data[pos : pos + 4], "little")
        if magic & 0xFFFFFFF0 == 0x184D2A50:
            pos += 8 + int.from_bytes(data[pos + 4 : pos + 8], "little")
            continue
        if data[pos : pos + 4] != ZSTD_MAGIC:
            raise ValueError(f"no zstd frame at offset {pos}: {data[pos : pos + 4].hex()}")
        descriptor = data[pos + 4]
        fcs_flag, single_segment = descriptor >> 6, descriptor >> 5 & 1
        checksum, dict_flag = descriptor >> 2 & 1, descriptor & 3
        pos += 5 + (0 if single_segment else 1) + (0, 1, 2, 4)[dict_flag]
        pos += (1 if single_segment else 0, 2, 4, 8)[fcs_flag]
        while True:
            header = int.from_bytes(data[pos : pos + 3], "little")
            last, block_type, size = header & 1, header >> 1 & 3, header >> 3
            pos += 3 + (1 if block_type == 1 else size)
            if block_type == 3:
                raise ValueError(f"reserved zstd block type at offset {pos}")
            if last:
                break
        pos += 4 * checksum
        frames.append((start, pos))
    return frames, padding


@dataclass
class InitrdInfo:
    compression: str
    size: int
    frames: int  # compressed frames/members (zstd only)
    padding: int  # zero bytes between frames
    archives: int  # cpio archives (TRAILER!!! seen)
    entries: int
    modules: set[str]  # paths relative to /lib/modules/<kver>, e.g. kernel/fs/ext4/ext4.ko


def _read_exact(stream: IO[bytes], n: int) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise ValueError("cpio stream ends inside an entry")
    return data


def cpio_names(stream: IO[bytes]) -> Iterator[str]:
    """Names of the entries of concatenated newc cpio archives (zero padding between them), TRAILER!!! included."""
    pos = 0

    def skip(n: int) -> None:
        nonlocal pos
        while n > 0:
            chunk = stream.read(min(n, 1 << 20))
            if not chunk:
                raise ValueError("cpio stream ends inside an entry")
            n -= len(chunk)
            pos += len(chunk)

    while True:
        first = stream.read(1)
        if not first:
            return
        pos += 1
        if first == b"\0":
            continue
        header = first + _read_exact(stream, 109)
        pos += 109
        if header[:6] not in (b"070701", b"070702"):
            raise ValueError(f"not a newc cpio header at offset {pos - 110}: {header[:6]!r}")
        filesize = int(header[54:62], 16)
        namesize = int(header[94:102], 16)
        name = _read_exact(stream, namesize)[:-1].decode("utf-8", "surrogateescape")
        pos += namesize
        skip(-pos % 4)
        skip(filesize)
        skip(-pos % 4)
        yield name


def initrd_info(path: Path, kver: str, scratch: Path) -> InitrdInfo:
    data = path.read_bytes()
    frames, padding = 0, 0
    if data.startswith(ZSTD_MAGIC):
        compression = "zstd"
        spans, padding = zstd_frames(data)
        frames = len(spans)
        joined = scratch / "initrd-frames.zst"
        with joined.open("wb") as out:
            for start, end in spans:
                out.write(data[start:end])
        cmd = ["zstd", "-dcq", str(joined)]
    elif data.startswith(GZIP_MAGIC):
        compression, cmd = "gzip", ["gzip", "-dc", str(path)]
    else:
        raise ValueError(f"{path}: neither gzip nor zstd ({data[:4].hex()})")
    del data
    marker = f"/modules/{kver}/"
    modules: set[str] = set()
    entries = archives = 0
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    for name in cpio_names(proc.stdout):
        if name == "TRAILER!!!":
            archives += 1
            continue
        entries += 1
        if name.endswith(MODULE_SUFFIXES) and marker in "/" + name:
            modules.add(("/" + name).split(marker, 1)[1])
    if proc.wait() != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with {proc.returncode}")
    return InitrdInfo(compression, path.stat().st_size, frames, padding, archives, entries, modules)


def module_name(path: str) -> str:
    """kernel/drivers/scsi/scsi_debug.ko -> scsi_debug (modprobe treats - and _ alike)."""
    name = Path(path).name
    return name[: name.index(".ko")].replace("-", "_")


def excluded_modules(rearbuild: list[str]) -> set[str]:
    """EXCLUDE_MODULES as rearbuild's `dump` prints it: EXCLUDE_MODULES=('scsi_debug')   # file."""
    for line in run([*rearbuild, "dump"]).splitlines():
        if line.startswith("EXCLUDE_MODULES=("):
            inside = line[len("EXCLUDE_MODULES=(") : line.index(")")]
            return {n.replace("-", "_") for n in shlex.split(inside)}
    return set()


def extract_initrd(iso: Path, dest: Path) -> Path:
    dest.unlink(missing_ok=True)
    run(["xorriso", "-osirrox", "on", "-indev", str(iso), "-extract", "/isolinux/initrd.cgz", str(dest)])
    return dest


# ---- setup -----------------------------------------------------------------------------------------------------------


def default_kernel() -> str:
    """The newest kernel with both modules and a /boot/vmlinuz (the running one has no modules here)."""
    running = os.uname().release
    if Path("/lib/modules", running).is_dir():
        return running
    found = sorted(p.name for p in Path("/lib/modules").iterdir() if Path("/boot", f"vmlinuz-{p.name}").exists())
    if not found:
        sys.exit("no kernel with /lib/modules/<version> and /boot/vmlinuz-<version>; give --kernel")
    return found[-1]


def ensure_rear() -> str:
    if not shutil.which("rear"):
        print("installing Debian's rear package (apt-get install -y rear)", flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "install", "-y", "rear"], check=True, env=env, stdout=subprocess.DEVNULL)
    return run(["rear", "-V"]).strip()


def default_rearbuild() -> str:
    beside = Path(sys.executable).parent / "rearbuild"
    return str(beside) if beside.exists() else (shutil.which("rearbuild") or "rearbuild")


def fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def umount(mountpoint: Path) -> None:
    if os.path.ismount(mountpoint) and subprocess.run(["umount", str(mountpoint)], check=False).returncode != 0:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def newest_iso(out: Path) -> Path:
    isos = sorted(out.glob("*/*.iso"), key=lambda p: p.stat().st_mtime)
    if not isos:
        raise RuntimeError(f"no ISO under {out}")
    return isos[-1]


# ---- the benchmark --------------------------------------------------------------------------------------------------


@dataclass
class Row:
    label: str
    tool: str
    m: Measured
    iso: int
    initrd: int


def mib(n: float) -> str:
    return f"{n / MIB:.1f}"


def print_table(rows: list[Row]) -> None:
    print(f"{'run':<14} {'tool':<10} {'wall s':>8} {'peak RSS MiB':>13} {'ISO MiB':>9} {'initrd MiB':>11}")
    for r in rows:
        print(
            f"{r.label:<14} {r.tool:<10} {r.m.wall:8.1f} {r.m.maxrss_kib / 1024:13.1f} {mib(r.iso):>9} "
            f"{mib(r.initrd):>11}"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="alternated pairs rear/rearbuild (default 3)")
    ap.add_argument("--workdir", type=Path, default=Path("/var/tmp/rearbuild-bench"), help="scratch directory")
    ap.add_argument("--kernel", help="kernel version for both (default: running, else newest installed)")
    ap.add_argument("--rearbuild", default=default_rearbuild(), help="rearbuild command (default: beside python)")
    ap.add_argument("--backup", choices=["NETFS", "REQUESTRESTORE"], default="NETFS")
    ap.add_argument("--no-cold", action="store_true", help="skip the cold rearbuild run (keep the var dir)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (rear needs it)")
    kver = args.kernel or default_kernel()
    rear_version = ensure_rear()
    work = args.workdir.absolute() / "mkrescue"
    work.mkdir(parents=True, exist_ok=True)
    mnt = work / "backup-mnt"
    umount(mnt)  # a previous run that was killed
    rear_dir, rb_dir, logs = work / "rear", work / "rearbuild", fresh(work / "logs")
    for d in ("conf", "out", "iso", "tmp"):
        fresh(rear_dir / d)
    for d in ("conf", "out", "log", "tmp"):
        fresh(rb_dir / d)
    var = rb_dir / "var"
    if not args.no_cold:
        fresh(var)
    var.mkdir(exist_ok=True)

    backup_conf = {"rear": "", "rearbuild": ""}
    failures: list[str] = []
    try:
        if args.backup == "NETFS":
            image = work / "backup.ext4"
            image.unlink(missing_ok=True)
            with image.open("wb") as f:
                f.truncate(64 * MIB)
            run(["mkfs.ext4", "-q", "-F", str(image)])
            mnt.mkdir(exist_ok=True)
            run(["mount", "-o", "loop", str(image), str(mnt)])
            for tool in backup_conf:
                (mnt / tool).mkdir()
                backup_conf[tool] = f"BACKUP=NETFS\nBACKUP_URL=file://{mnt / tool}\n"
        (rear_dir / "conf" / "local.conf").write_text(
            f"OUTPUT=ISO\nOUTPUT_URL=file://{rear_dir / 'out'}\nISO_DIR={rear_dir / 'iso'}\nBOOTLOADER=GRUB2\n"
            + backup_conf["rear"]
        )
        (rb_dir / "conf" / "local.conf").write_text(
            f"OUTPUT=ISO\nOUTPUT_URL=file://{rb_dir / 'out'}\n" + backup_conf["rearbuild"]
        )
        rear_cmd = ["rear", "-c", str(rear_dir / "conf"), "-r", kver, "mkrescue"]
        rear_env = dict(os.environ, TMPDIR=str(rear_dir / "tmp"))
        rb_cmd = [
            args.rearbuild, "-c", str(rb_dir / "conf"), "--var-dir", str(var), "--log-dir", str(rb_dir / "log"),
            "--tmpdir", str(rb_dir / "tmp"), "-n", "mkrescue",
        ]  # fmt: skip
        print(f"host {socket.gethostname()}, kernel {kver}, {rear_version}, BACKUP={args.backup}, work {work}")
        print(f"rear:      {' '.join(rear_cmd)}  (TMPDIR={rear_dir / 'tmp'})")
        print(f"rearbuild: {' '.join(rb_cmd)}")
        print("peak RSS: ru_maxrss of os.wait4() on the top process = largest single process of the tree\n", flush=True)

        initrds = {"rear": work / "rear-initrd.cgz", "rearbuild": work / "rearbuild-initrd.cgz"}

        def one(tool: str, label: str) -> Row:
            cmd, env, out = (rear_cmd, rear_env, rear_dir / "out") if tool == "rear" else (rb_cmd, None, rb_dir / "out")
            for old in out.iterdir():
                shutil.rmtree(old)
            print(f"  {label}: {tool} ...", end=" ", flush=True)
            for attempt in range(1, ATTEMPTS + 1):
                log = logs / f"{tool}-{label.split()[0]}-{attempt}.log"
                m = measure(cmd, log, env)
                print(f"{m.wall:.1f} s" + (f" (exit {m.rc})" if m.rc else ""), end=" ", flush=True)
                if m.rc == 0:
                    break
                # Other engineers' tests mount and unmount loop devices while both tools read the layout.
                last = log.read_text(errors="replace").strip().splitlines()[-12:]
                failures.append(f"{tool} run {label} attempt {attempt}: exit {m.rc}, {log}\n    " + "\n    ".join(last))
            else:
                raise RuntimeError(f"{tool} failed {ATTEMPTS} times; output in {log}")
            print(flush=True)
            if attempt > 1:
                label += "*"
            iso = newest_iso(out)
            initrd = extract_initrd(iso, initrds[tool])
            return Row(label, tool, m, iso.stat().st_size, initrd.stat().st_size)

        cold = None if args.no_cold else one("rearbuild", "cold")
        rows: list[Row] = []
        for i in range(1, args.runs + 1):
            rows.append(one("rear", str(i)))
            rows.append(one("rearbuild", f"{i} (warm)"))
    finally:
        umount(mnt)

    print()
    print_table(rows)
    if failures:
        print("* = retried; failed attempts (not in the table):", *failures, sep="\n  ")
    print()
    med: dict[str, Row] = {}
    for tool in ("rear", "rearbuild"):
        mine = [r for r in rows if r.tool == tool]
        med[tool] = Row(
            "median" + (" (warm)" if tool == "rearbuild" else ""),
            tool,
            Measured(
                statistics.median(r.m.wall for r in mine), int(statistics.median(r.m.maxrss_kib for r in mine)), 0
            ),
            int(statistics.median(r.iso for r in mine)),
            int(statistics.median(r.initrd for r in mine)),
        )
    print_table([med["rear"], med["rearbuild"], *([cold] if cold else [])])
    a, b = med["rear"], med["rearbuild"]
    print(
        f"{'rear/rb warm':<14} {'ratio':<10} {a.m.wall / b.m.wall:8.1f} {a.m.maxrss_kib / b.m.maxrss_kib:13.2f} "
        f"{a.iso / b.iso:9.2f} {a.initrd / b.initrd:11.2f}"
    )
    if cold:
        print(
            f"{'rear/rb cold':<14} {'ratio':<10} {a.m.wall / cold.m.wall:8.1f} "
            f"{a.m.maxrss_kib / cold.m.maxrss_kib:13.2f} {a.iso / cold.iso:9.2f} {a.initrd / cold.initrd:11.2f}"
        )

    # ---- what the initrds carry (the last run's) ----
    info = {tool: initrd_info(path, kver, work) for tool, path in initrds.items()}
    (work / "initrd-frames.zst").unlink(missing_ok=True)
    print()
    print(f"{'initrd':<10} {'format':<7} {'MiB':>7} {'frames':>7} {'padding B':>10} {'cpio archives':>14} "
          f"{'entries':>8} {'modules':>8}")  # fmt: skip
    for tool, ini in info.items():
        frames = str(ini.frames) if ini.compression == "zstd" else "-"
        padding = str(ini.padding) if ini.compression == "zstd" else "-"
        print(
            f"{tool:<10} {ini.compression:<7} {mib(ini.size):>7} {frames:>7} {padding:>10} {ini.archives:>14} "
            f"{ini.entries:>8} {len(ini.modules):>8}"
        )
    root = Path("/lib/modules", kver)
    every = {str(p.relative_to(root)) for p in (root / "kernel").rglob("*") if p.name.endswith(MODULE_SUFFIXES)}
    print(f"kernel {kver}: {len(every)} modules under {root}/kernel")

    print()
    excluded = excluded_modules(rb_cmd[: rb_cmd.index("-n")])
    print(f"rearbuild's EXCLUDE_MODULES (from rearbuild dump): {' '.join(sorted(excluded)) or '(none)'}")
    print()
    print(
        f"{'class (kernel/...)':<22} {'kernel':>7} {'rear':>6} {'rearbuild':>10} {'excluded':>9} {'missing':>8}  "
        "missing in rearbuild (not excluded)"
    )
    all_missing: list[str] = []
    total = {"kernel": 0, "rear": 0, "rearbuild": 0, "excluded": 0}
    for cls in MODULE_CLASSES:
        want = {m for m in every if m.startswith(f"kernel/{cls}/")}
        have = {tool: want & i.modules for tool, i in info.items()}
        absent = want - info["rearbuild"].modules
        skipped = {m for m in absent if module_name(m) in excluded}
        missing = sorted(absent - skipped)
        all_missing += missing
        total["kernel"] += len(want)
        total["excluded"] += len(skipped)
        for tool in have:
            total[tool] += len(have[tool])
        names = ", ".join(Path(m).name for m in missing[:6]) + (" ..." if len(missing) > 6 else "")
        print(
            f"{cls:<22} {len(want):>7} {len(have['rear']):>6} {len(have['rearbuild']):>10} {len(skipped):>9} "
            f"{len(missing):>8}  {names}"
        )
    print(
        f"{'total':<22} {total['kernel']:>7} {total['rear']:>6} {total['rearbuild']:>10} {total['excluded']:>9} "
        f"{len(all_missing):>8}  " + ("none missing" if not all_missing else "")
    )
    if all_missing:
        print("missing in rearbuild's initrd:", *all_missing, sep="\n  ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
