#!/usr/bin/env python3
"""Restore throughput: rearbuild's NETFS restore against a plain `tar -x` of the same archive.

Run by hand, as root (not part of the test suite):

    .venv/bin/python tests/bench/bench_restore.py [--source /usr/share] [--runs 3] [--compress gzip zstd]

For each compression, `rearbuild mkbackuponly` archives --source (BACKUP_ONLY_INCLUDE) into a work directory;
then, alternately, `rearbuild restoreonly --demo DIR` (which also checks the archive's sha256 and probes its head
before restoring: reported separately from the restore stage, read from rearbuild's "restore: ... in N s" line)
and `tar -x` of the same archive with the decompressor in tar (`tar -xzf` / `tar --zstd -xf`, no xattrs/ACLs).
Throughput is the source's apparent size (du -sb) divided by the time. Page cache warm for both.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

_TAR_FLAG = {"gzip": "--gzip", "zstd": "--zstd", "xz": "--xz", "none": ""}
_SUFFIX = {"gzip": ".gz", "zstd": ".zst", "xz": ".xz", "none": ""}


def rearbuild_argv(work: Path, *args: str) -> list[str]:
    return [
        sys.executable, "-m", "rearbuild",
        "-c", str(work / "etc"), "--var-dir", str(work / "var"), "--log-dir", str(work / "log"),
        "--tmpdir", str(work / "tmp"), *args,
    ]  # fmt: skip


def timed(argv: list[str]) -> tuple[float, str]:
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr}")
    return elapsed, proc.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=Path("/usr/share"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--compress", nargs="+", default=["gzip", "zstd"], choices=sorted(_TAR_FLAG))
    parser.add_argument("--workdir", type=Path, default=Path("/var/tmp/rearbuild-bench-restore"))
    args = parser.parse_args()
    work: Path = args.workdir
    shutil.rmtree(work, ignore_errors=True)
    for d in ("etc", "var", "log", "tmp"):
        (work / d).mkdir(parents=True)
    size = int(subprocess.run(["du", "-sb", str(args.source)], capture_output=True, text=True).stdout.split()[0])
    print(f"source {args.source}: {size / 1e6:.0f} MB")
    for compress in args.compress:
        (work / "etc/local.conf").write_text(
            f"BACKUP=NETFS\nBACKUP_URL=file://{work}/backup\nNETFS_PREFIX=bench\nBACKUP_ONLY_INCLUDE=y\n"
            f"BACKUP_PROG_INCLUDE=( '{args.source}' )\nBACKUP_PROG_COMPRESS={compress}\n"
        )
        backup_s, _ = timed(rearbuild_argv(work, "mkbackuponly"))
        archive = work / "backup/bench" / f"backup.tar{_SUFFIX[compress]}"
        print(
            f"\n{compress}: mkbackuponly {backup_s:.1f} s ({size / 1e6 / backup_s:.0f} MB/s), "
            f"archive {archive.stat().st_size / 1e6:.0f} MB"
        )
        ours_total, ours_restore, plain = [], [], []
        for _ in range(args.runs):
            target = work / "restored"
            shutil.rmtree(target, ignore_errors=True)
            total, log = timed(rearbuild_argv(work, "restoreonly", "--demo", str(target)))
            match = re.search(r"^restore: .* in ([0-9.]+) s", log, re.M)
            ours_total.append(total)
            ours_restore.append(float(match[1]) if match else total)
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir()
            flag = [_TAR_FLAG[compress]] if _TAR_FLAG[compress] else []
            elapsed, _ = timed(["tar", "-x", *flag, "-f", str(archive), "-C", str(target)])
            plain.append(elapsed)
        shutil.rmtree(work / "restored", ignore_errors=True)

        def show(name: str, values: list[float]) -> None:
            best = min(values)
            print(
                f"  {name:<44} median {statistics.median(values):6.2f} s  best {best:6.2f} s"
                f"  {size / 1e6 / best:6.0f} MB/s"
            )

        show("rearbuild restoreonly (sha256+probe+restore)", ours_total)
        show("rearbuild restore stage only", ours_restore)
        show("tar -x", plain)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
