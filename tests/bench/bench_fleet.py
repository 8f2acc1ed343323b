#!/usr/bin/env python3
"""Building the rescue images of N distinct hosts on one builder: with one shared content-addressed cache (cold,
then warm) against the baseline of each bundle built with an empty cache of its own.

Run by hand, as root (not part of the test suite):

    .venv/bin/python tests/bench/bench_fleet.py [--hosts 20] [--counts 1 5 20] [--workdir DIR]

The hosts are the Debian chroots of tests/integration/fleet_targets.py (one cached debootstrap, copies with their own
package sets and a file of their own in the image); each is collected once (`rearbuild collect --bundle` inside the
chroot) and its bundle kept. Then, over the bundles in order:

  baseline     each `rearbuild build` with a new empty --cache-dir (what N builders, or N var dirs, would do)
  shared cold  every build with one --cache-dir, empty at the start (run right after the baseline of each bundle)
  shared warm  the same builds again with that cache (nothing changed on the hosts)

A build does not depend on the builds after it, so the figures for N hosts are the first N builds of the pass over
--hosts bundles (--separate runs a new pass for each N instead). Time per host is the mean; the ISOs of all three
modes are compared byte for byte.

Measured 2026-11-30 (2 cores shared with other builds, load 3-7; full module set, 207 MiB of files per host):

    hosts | baseline s/host    total | shared cold s/host    total | shared warm s/host    total
        1 |            17.1     17.1 |               20.6     20.6 |                4.3      4.3
        5 |            19.1     95.5 |                9.7     48.7 |                4.2     20.8
       20 |            30.8    615.5 |               11.7    233.2 |                4.2     83.8
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.integration.fleet_targets import distinct_specs, targets

REARBUILD = Path(sys.executable).parent / "rearbuild"


def collect(work: Path, count: int) -> list[Path]:
    bundles = work / "bundles"
    bundles.mkdir(parents=True, exist_ok=True)
    wanted = [bundles / f"host{i:02d}.tar" for i in range(count)]
    missing = [(n, p, c) for (n, p, c) in distinct_specs(count) if not (bundles / f"{n}.tar").exists()]
    if missing:
        with targets(work, missing) as made:
            for t in made:
                subprocess.run(["chroot", str(t.root), "rearbuild", "collect", "--bundle", "/root/bundle.tar"],
                               check=True, capture_output=True)  # fmt: skip
                shutil.copyfile(t.root / "root" / "bundle.tar", bundles / f"{t.name}.tar")
    return wanted


def build(bundle: Path, area: Path, cache: Path) -> tuple[float, bytes]:
    shutil.rmtree(area, ignore_errors=True)
    (area / "etc").mkdir(parents=True)
    (area / "etc" / "local.conf").write_text(f"OUTPUT_URL=file://{area / 'out'}\n")
    argv = [str(REARBUILD), "-c", str(area / "etc"), "--var-dir", str(area / "var"), "--log-dir", str(area / "log"),
            "--tmpdir", str(area / "tmp"), "--cache-dir", str(cache), "build", str(bundle)]  # fmt: skip
    start = time.monotonic()
    subprocess.run(argv, check=True, capture_output=True)
    elapsed = time.monotonic() - start
    (iso,) = (area / "out").glob("*/*.iso")
    return elapsed, iso.read_bytes()


def one_pass(bundles: list[Path], work: Path) -> dict[str, list[float]]:
    """Each bundle built by the baseline and then into the shared cache (interleaved: the two see the same load on a
    shared machine, and an interrupted run still has pairs), then the warm pass."""
    times: dict[str, list[float]] = {"baseline": [], "shared cold": [], "shared warm": []}
    shared = work / "shared-cache"
    shutil.rmtree(shared, ignore_errors=True)
    isos: dict[str, list[bytes]] = {k: [] for k in times}

    def run(mode: str, bundle: Path, cache: Path) -> None:
        elapsed, iso = build(bundle, work / "area", cache)
        times[mode].append(elapsed)
        isos[mode].append(iso)
        print(f"  {mode:<12} {bundle.name}: {elapsed:6.1f} s", flush=True)

    for bundle in bundles:
        shutil.rmtree(work / "own-cache", ignore_errors=True)
        run("baseline", bundle, work / "own-cache")
        run("shared cold", bundle, shared)
    for bundle in bundles:
        run("shared warm", bundle, shared)
    if not isos["baseline"] == isos["shared cold"] == isos["shared warm"]:
        raise SystemExit("the shared cache changed an image's bytes")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 5, 20])
    parser.add_argument("--separate", action="store_true", help="a new pass for each count")
    parser.add_argument("--workdir", type=Path, default=Path("/var/tmp/rearbuild-fleet-bench"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    bundles = collect(args.workdir, max(args.hosts, *args.counts))
    print(f"collected {len(bundles)} bundles in {time.monotonic() - start:.0f} s", flush=True)
    rows = []
    if args.separate:
        passes = {n: one_pass(bundles[:n], args.workdir) for n in args.counts}
    else:
        full = one_pass(bundles[: max(args.counts)], args.workdir)
        passes = {n: {k: v[:n] for k, v in full.items()} for n in args.counts}
    for n in args.counts:
        t = passes[n]
        rows.append((n, *(x for k in ("baseline", "shared cold", "shared warm") for x in (sum(t[k]) / n, sum(t[k])))))
    print()
    print(f"{'hosts':>5} | {'baseline s/host':>15} {'total':>8} | {'shared cold s/host':>18} {'total':>8} | "
          f"{'shared warm s/host':>18} {'total':>8}")  # fmt: skip
    for n, bh, bt, ch, ct, wh, wt in rows:
        print(f"{n:>5} | {bh:>15.1f} {bt:>8.1f} | {ch:>18.1f} {ct:>8.1f} | {wh:>18.1f} {wt:>8.1f}")
    print("\nimages byte-identical across the three modes: yes")


if __name__ == "__main__":
    main()
