#!/usr/bin/env python3
"""Restore throughput inside the rescue system: `rear restoreonly` against a plain `tar -x` of the same archive,
in the same QEMU guest, alternately (run by hand, as root; not part of the test suite):

    .venv/bin/python tests/bench/bench_restore_vm.py [--source /usr/share/doc] [--runs 2]

On the host: `rearbuild mkbackuponly` archives --source (gzip) onto an ext4 disk image labelled REAR-000, and
`rearbuild image` builds the rescue ISO. In the guest (TCG: absolute figures are far below real hardware, the
ratio is what counts): a blank ext4 target is mounted at /mnt/local, then rearbuild's restore (usb://REAR-000, with
its sha256 check) and `tar -xpzf` with xattrs and ACLs take turns, the target emptied between runs.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from rearbuild.facts import short_hostname
from tests.vm.qemu import Guest, cdrom, qemu


def rearbuild(work: Path, *args: str) -> None:
    argv = [sys.executable, "-m", "rearbuild", "-c", str(work / "etc"), "--var-dir", str(work / "var"),
            "--log-dir", str(work / "log"), "--tmpdir", str(work / "tmp"), *args]  # fmt: skip
    subprocess.run(argv, check=True, capture_output=True, text=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default="/usr/share/doc", help="tree to back up (default /usr/share/doc)")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rearbuild-bench-vm-", dir="/var/tmp") as tmp:
        work = Path(tmp)
        (work / "etc").mkdir()
        backup = work / "backup.img"
        subprocess.run(["truncate", "-s", "2G", str(backup)], check=True)
        subprocess.run(["mkfs.ext4", "-q", "-L", "REAR-000", str(backup)], check=True)
        mnt = work / "mnt"
        mnt.mkdir()
        subprocess.run(["mount", "-o", "loop", str(backup), str(mnt)], check=True)
        try:
            (work / "etc/local.conf").write_text(
                f"BACKUP=NETFS\nBACKUP_URL=file://{mnt}\nBACKUP_ONLY_INCLUDE=y\nBACKUP_PROG_INCLUDE=( {args.source} )\n"
            )
            rearbuild(work, "mkbackuponly")
            archive = next(mnt.rglob("backup.tar.gz"))
            relative = archive.relative_to(mnt)
            # the rescue system finds the same archive on the REAR-000 disk under rear/<prefix>
            usb_dir = mnt / "rear"
            usb_dir.mkdir(exist_ok=True)
            (usb_dir / relative.parent.name).mkdir(exist_ok=True)
            for name in (archive.name, archive.name + ".sha256"):
                (archive.parent / name).rename(usb_dir / relative.parent.name / name)
            archive = usb_dir / relative.parent.name / archive.name
            size_mb = (
                int(
                    subprocess.run(
                        ["du", "-sb", args.source], capture_output=True, text=True, check=True
                    ).stdout.split()[0]
                )
                / 1e6
            )
            archive_in_guest = "/mnt/backup/" + str(archive.relative_to(mnt))
        finally:
            subprocess.run(["umount", str(mnt)], check=True)
        (work / "etc/local.conf").write_text(
            "BACKUP=NETFS\nBACKUP_URL=usb:///dev/disk/by-label/REAR-000\nISO_DEFAULT=manual\nISO_SYSLINUX_TIMEOUT=10\n"
            f"OUTPUT_URL=file://{work}/out\n"
        )
        rearbuild(work, "image")
        iso = work / "out" / short_hostname() / f"rear-{short_hostname()}.iso"
        target = work / "target.img"
        subprocess.run(["truncate", "-s", "4G", str(target)], check=True)
        guest = Guest(
            qemu(
                *cdrom(iso),
                "-drive",
                f"file={target},if=virtio,format=raw",
                "-drive",
                f"file={backup},if=virtio,format=raw",
                memory=2048,
            ),
            work / "console.log",
        )
        times: dict[str, list[float]] = {"rear restoreonly": [], "tar -x": []}
        details: dict[str, list[str]] = {}
        try:
            guest.wait_for(r"RESCUE [^\n]*# ", 240)
            status, out = guest.shell(
                "mkfs.ext4 -q /dev/vda && mkdir -p /mnt/local /mnt/backup && mount /dev/vda /mnt/local", timeout=120
            )
            assert status == 0, out
            commands = {
                "rear restoreonly": "rear -n -v restoreonly 2>&1 | grep -E \"stage [a-z]+: |restore: .* in \"; "
                "test ${PIPESTATUS[0]} = 0",
                "tar -x": f"mount -o ro /dev/vdb /mnt/backup && tar --xattrs --xattrs-include='*' --acls -xpzf "
                          f"{archive_in_guest} -C /mnt/local; s=$?; umount /mnt/backup; exit_=$s; [ $s = 0 ]",
            }  # fmt: skip
            for _ in range(args.runs):
                for name, command in commands.items():
                    guest.shell("rm -rf /mnt/local/* && sync", timeout=600)
                    status, out = guest.shell(
                        f"a=$EPOCHREALTIME; {command}; rc=$?; echo TOOK $a $EPOCHREALTIME; (exit $rc)", timeout=1800
                    )
                    took = re.search(r"TOOK ([0-9.]+) ([0-9.]+)", out)
                    assert status == 0 and took, f"{name} failed:\n{out[-2000:]}"
                    times[name].append(float(took.group(2)) - float(took.group(1)))
                    details.setdefault(name, [x for x in out.splitlines() if "stage " in x or "restore:" in x])
        finally:
            guest.close()
    print(f"\nrestore of {args.source} ({size_mb:.0f} MB unpacked, gzip) in the rescue system under QEMU/TCG")
    print(f"{'tool':<20} {'runs':>10} {'median s':>10} {'MB/s':>8}")
    for name, values in times.items():
        median = statistics.median(values)
        runs = " ".join(f"{v:.1f}" for v in values)
        print(f"{name:<20} {runs:>10} {median:>10.1f} {size_mb / median:>8.1f}")
    for line in details.get("rear restoreonly", []):
        print(f"  rear: {line.strip()}")
    ratio = statistics.median(times["tar -x"]) / statistics.median(times["rear restoreonly"])
    print(f"rearbuild's restore runs at {ratio:.2f}x the speed of plain tar -x (incl. its sha256 check)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
