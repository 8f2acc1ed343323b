"""Which kernel modules the recovered system needs to find its root file system on this hardware: the drivers
of the disks under it, the block layers in between (dm, md) and the file system. Read from sysfs of the running
rescue system, so the answer is about the machine being recovered, not the one that was backed up."""

from __future__ import annotations

import os
from pathlib import Path

from rearbuild.run import run

_SYS_BLOCK = Path("/sys/class/block")


def _kname(device: str) -> str | None:
    real = os.path.realpath(device)
    name = os.path.basename(real)
    return name if (_SYS_BLOCK / name).exists() else None


def _module_of(sysdir: Path) -> str | None:
    link = sysdir / "device" / "driver" / "module"
    return os.path.basename(os.path.realpath(link)) if link.exists() else None


def _walk(name: str, found: set[str]) -> None:
    node = _SYS_BLOCK / name
    if name.startswith("dm-"):
        found.add("dm_mod")
        dm_name = (node / "dm" / "name").read_text().strip() if (node / "dm" / "name").exists() else ""
        if dm_name:
            table = run(["dmsetup", "table", dm_name], check=False).out
            for line in table.splitlines():
                words = line.split()
                if len(words) > 2 and words[2] in ("crypt", "raid", "thin", "thin-pool", "mirror", "snapshot"):
                    found.add(
                        {
                            "crypt": "dm_crypt",
                            "raid": "dm_raid",
                            "thin": "dm_thin_pool",
                            "thin-pool": "dm_thin_pool",
                            "mirror": "dm_mirror",
                            "snapshot": "dm_snapshot",
                        }[words[2]]
                    )
    elif name.startswith("md"):
        found.add("md_mod")
        level = node / "md" / "level"
        if level.exists():
            value = level.read_text().strip()
            found.add("raid456" if value in ("raid4", "raid5", "raid6") else value)
    slaves = node / "slaves"
    if slaves.is_dir() and any(slaves.iterdir()):
        for slave in sorted(slaves.iterdir()):
            _walk(slave.name, found)
        return
    # a partition: its disk is the parent directory in sysfs
    disk = node.resolve().parent if (node / "partition").exists() else node.resolve()
    module = _module_of(disk)
    if module:
        found.add(module)


def root_modules(target_root: Path) -> set[str]:
    """Modules for the devices and the file system that the recovered / is mounted from."""
    result = run(["findmnt", "-n", "-o", "SOURCE,FSTYPE", "--target", str(target_root)], check=False)
    words = result.out.split()
    if len(words) < 2:
        return set()
    source, fstype = words[0], words[1]
    found: set[str] = {fstype}
    name = _kname(source.split("[", 1)[0])
    if name is not None:
        _walk(name, found)
    return found
