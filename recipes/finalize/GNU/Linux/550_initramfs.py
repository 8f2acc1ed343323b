"""The restored system's initramfs is rebuilt only when it is needed (ReaR rebuilds it always, which took ~9 of its
~11 minutes of recovery when measured under emulation): in migration mode, when device names or UUIDs changed, when
REBUILD_INITRAMFS=y, or when it lacks a driver this hardware needs for the root file system — checked by reading
the initramfs, not guessed."""

from __future__ import annotations

import logging
import lzma
from pathlib import Path

from rearbuild.context import Context
from rearbuild.errors import UserError
from rearbuild.facts import read_os_release
from rearbuild.log import notice
from rearbuild.recover.chroot import chroot, chroot_mounts
from rearbuild.recover.initramfs import has_module, members
from rearbuild.recover.storage import root_modules
from rearbuild.run import run

log = logging.getLogger("rearbuild.recover")


def _kernels(root: Path) -> list[tuple[str, Path]]:
    """(version, initramfs) pairs of the restored system."""
    found = []
    for kernel in sorted((root / "boot").glob("vmlinuz-*")):
        version = kernel.name[len("vmlinuz-") :]
        for name in (f"initrd.img-{version}", f"initramfs-{version}.img", f"initrd-{version}"):
            if (root / "boot" / name).is_file():
                found.append((version, root / "boot" / name))
                break
    return found


def _builtin(root: Path, version: str, module: str) -> bool:
    builtin = root / "lib/modules" / version / "modules.builtin"
    if not builtin.is_file():
        return False
    names = {line.rsplit("/", 1)[-1].split(".ko")[0].replace("-", "_") for line in builtin.read_text().splitlines()}
    return module.replace("-", "_") in names


def _rebuild_command(root: Path, version: str) -> list[str] | None:
    release = read_os_release(root)
    family = {release.get("ID", ""), *release.get("ID_LIKE", "").split()}
    if family & {"debian", "ubuntu"} and (root / "usr/sbin/update-initramfs").exists():
        return chroot(root, "update-initramfs", "-u", "-k", version)
    if (root / "usr/bin/dracut").exists() or (root / "usr/sbin/dracut").exists():
        return chroot(root, "dracut", "-f", f"/boot/initramfs-{version}.img", version)
    return None


def main(ctx: Context) -> None:
    root = ctx.state.finalize_root
    if root is None:
        return
    choice = ctx.tristate("REBUILD_INITRAMFS")
    if choice is False:
        return
    needed = root_modules(root)
    reasons_common = []
    if choice:
        reasons_common.append("REBUILD_INITRAMFS=y")
    if ctx.tristate("MIGRATION_MODE"):
        reasons_common.append("migration mode")
    if ctx.state.identities_changed:
        reasons_common.append("device names or UUIDs changed")
    for version, initrd in _kernels(root):
        reasons = list(reasons_common)
        try:
            contents = members(initrd)
        except (OSError, ValueError, EOFError, lzma.LZMAError, UserError) as exc:
            # an unreadable initramfs is one more reason to make a new one
            reasons.append(f"cannot read {initrd.name}: {exc}")
            contents = set()
        missing = sorted(
            m for m in needed if contents and not _builtin(root, version, m) and not has_module(contents, m)
        )
        if missing:
            reasons.append(f"it lacks {', '.join(missing)} needed for / on this hardware")
        if not reasons:
            log.info("initramfs %s has what this hardware needs (%s): kept", initrd.name, ", ".join(sorted(needed)))
            continue
        command = _rebuild_command(root, version)
        if command is None:
            notice(
                "WARNING: the initramfs %s should be rebuilt (%s), but the restored system has neither "
                "update-initramfs nor dracut; rebuild it by hand: chroot %s, then your distribution's tool",
                initrd.name,
                "; ".join(reasons),
                root,
            )
            continue
        notice("rebuilding %s: %s", initrd.name, "; ".join(reasons))
        with chroot_mounts(root):
            run(command, timeout=3600, hint=f"rebuild it by hand: chroot {root} {' '.join(command[2:])}")
