"""The restored system as a chroot: /dev, /proc, /sys and /run of the rescue system bound into it, so that its own
grub-install, update-initramfs or dracut can run there (ReaR: finalize/default/110_bind_mount_proc_sys_dev_run.sh)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rearbuild.recover import target as target_paths
from rearbuild.run import run

log = logging.getLogger("rearbuild.recover")

_BINDS = ("dev", "proc", "sys", "run")


@contextmanager
def chroot_mounts(root: Path) -> Iterator[Path]:
    mounted: list[Path] = []
    try:
        for name in _BINDS:
            # The restored system's own /dev may be a link (dev -> /elsewhere): mount resolves the path as the
            # rescue system sees it, so bind where the chroot will find it, never outside root.
            with target_paths.directory(root, name, create=True) as where:
                target = where.path
            if os.path.ismount(target):
                continue
            run(["mount", "--rbind", f"/{name}", str(target)])
            run(["mount", "--make-rslave", str(target)])
            mounted.append(target)
        yield root
    finally:
        for target in reversed(mounted):
            # lazy: a process started in the chroot (e.g. a daemon of a package script) must not block recovery
            run(["umount", "-R", "-l", str(target)], check=False)


def chroot(root: Path, *argv: str) -> list[str]:
    return ["chroot", str(root), *argv]
