"""Distinct Debian hosts for the fleet playbook's tests and benchmark: chroot trees made from one cached debootstrap.

The base (Debian 12 minbase + Python + what `rearbuild collect` needs) is debootstrapped once into
/var/cache/rearbuild-tests/ (about 3 minutes, then reused); each target is a copy of it (`cp -a`, a second or two)
with some packages purged and its own /etc/rear/local.conf, so that no two targets give the same bundle. A copy and
not an overlay mount: the target's / must be a disk file system, or its disk layout has no root file system.
The builder's kernel (/boot, /lib/modules) and this checkout (with the venv's site-packages, for jinja2 and
pycdlib) are bind-mounted read-only; /proc, /sys and /dev are bind-mounted as a chroot needs them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CACHE = Path("/var/cache/rearbuild-tests")
# Bump the number when PACKAGES change: a new base is made beside the old one.
BASE = CACHE / "bookworm-fleet-1"
# collect needs sfdisk (fdisk), kmod, and the REQUIRED_PROGS ps (procps), ip (iproute2), less, parted; OPTIONAL are
# programs of PROGS that targets drop to differ from each other.
OPTIONAL = ("xfsprogs", "dosfstools", "gdisk", "ethtool", "nano")
PACKAGES = ("python3", "fdisk", "kmod", "procps", "iproute2", "less", "parted", *OPTIONAL)
MIRROR = "http://deb.debian.org/debian"
CHECKOUT = Path(__file__).resolve().parents[2]
WRAPPER = '#!/bin/sh\nPYTHONPATH=/opt/rearbuild/src:/opt/rearbuild/site exec /usr/bin/python3 -m rearbuild "$@"\n'


def ensure_base() -> Path:
    """The cached base tree, debootstrapped when it is missing."""
    if BASE.is_dir():
        return BASE
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = BASE.with_name(BASE.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run(
        ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", "bookworm", str(tmp), MIRROR],
        check=True, capture_output=True, timeout=1200,
    )  # fmt: skip
    subprocess.run(["chroot", str(tmp), "apt-get", "clean"], check=True, capture_output=True)
    tmp.rename(BASE)
    return BASE


@dataclass(frozen=True)
class Target:
    name: str
    root: Path


def _mounts_below(path: Path) -> list[str]:
    prefix = os.fspath(path)
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if p == prefix or p.startswith(prefix + "/")]


def _bind(source: Path, dest: Path, *, readonly: bool) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "--bind", str(source), str(dest)], check=True)
    if readonly:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(dest)], check=True)


def _make(where: Path, name: str, purge: Sequence[str], local_conf: str) -> Target:
    root = where / name
    subprocess.run(["cp", "-a", "--reflink=auto", str(ensure_base()), str(root)], check=True)
    if purge:
        subprocess.run(["chroot", str(root), "dpkg", "--purge", *purge], check=True, capture_output=True)
    (root / "etc" / "rear").mkdir(parents=True, exist_ok=True)
    (root / "etc" / "rear" / "local.conf").write_text(local_conf)
    (root / "etc" / "fleet-host.id").write_text(name + "\n")
    wrapper = root / "usr" / "local" / "bin" / "rearbuild"
    wrapper.write_text(WRAPPER)
    wrapper.chmod(0o755)
    binds = [
        # / a mount point of its own, on the disk: the layout then has a root file system (as a real host's)
        (root, "", False),
        (Path("/proc"), "proc", True),
        (Path("/sys"), "sys", True),
        (Path("/dev"), "dev", False),  # sfdisk opens the disk: a read-only /dev refuses that (EPERM)
        (Path("/boot"), "boot", True),
        (Path("/lib/modules"), "usr/lib/modules", True),
        (CHECKOUT, "opt/rearbuild/src", True),
        (Path(sysconfig.get_paths()["purelib"]), "opt/rearbuild/site", True),
    ]
    for source, dest, readonly in binds:
        _bind(source, root / dest if dest else root, readonly=readonly)
    return Target(name, root)


def _remove(target: Target) -> None:
    for point in reversed(_mounts_below(target.root)):
        subprocess.run(["umount", point], check=False, capture_output=True)
    left = _mounts_below(target.root)
    if left:
        # Never delete through a mount: /dev is the machine's own.
        raise RuntimeError(f"cannot unmount {left}; {target.root} is left in place")
    shutil.rmtree(target.root)


@contextmanager
def targets(where: Path, specs: Sequence[tuple[str, Sequence[str], str]]) -> Iterator[list[Target]]:
    """Targets named, purged and configured as specs say (name, packages to purge, local.conf); removed after."""
    made: list[Target] = []
    try:
        for name, purge, local_conf in specs:
            made.append(_make(where, name, purge, local_conf))
        yield made
    finally:
        for target in made:
            _remove(target)


def distinct_specs(count: int) -> list[tuple[str, Sequence[str], str]]:
    """count targets, each with its own package set (subsets of OPTIONAL) and its own configuration."""
    specs: list[tuple[str, Sequence[str], str]] = []
    for i in range(count):
        purge = [p for bit, p in enumerate(OPTIONAL) if i >> bit & 1]
        # a host's own file in its image, as a real host's hostname, fstab, ... are
        conf = "COPY_AS_IS+=( /etc/fleet-host.id )\n"
        specs.append((f"host{i:02d}", purge, conf))
    return specs
