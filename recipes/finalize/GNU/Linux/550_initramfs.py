"""The restored system's initramfs is rebuilt only when it is needed (rearbuild.recover.initramfs says when): in
migration mode, when device names or UUIDs changed, when REBUILD_INITRAMFS=y, or when it lacks a driver this
hardware needs for the root file system."""

from __future__ import annotations

import logging
from pathlib import Path

from rearbuild.context import Context
from rearbuild.log import notice
from rearbuild.recover.chroot import chroot_mounts
from rearbuild.recover.initramfs import RebuildChoice, decide
from rearbuild.recover.storage import root_modules
from rearbuild.run import run

log = logging.getLogger("rearbuild.recover")


def main(ctx: Context) -> None:
    root = ctx.results.get("finalize_root")
    if not isinstance(root, Path):
        return
    choice = RebuildChoice.parse(ctx.text("REBUILD_INITRAMFS"))
    if choice is RebuildChoice.NO:
        return
    needed = root_modules(root)
    migration = ctx.text("MIGRATION_MODE").strip().lower() in ("true", "y", "yes", "1")
    changed = bool(ctx.results.get("identities_changed"))
    for decision in decide(root, choice, migration=migration, identities_changed=changed, needed=needed):
        name, reasons = decision.initramfs.path.name, "; ".join(decision.reasons)
        if not decision.rebuild:
            log.info("initramfs %s has what this hardware needs (%s): kept", name, ", ".join(sorted(needed)))
        elif decision.command is None:
            notice("WARNING: the initramfs %s should be rebuilt (%s), but the restored system has neither "
                   "update-initramfs nor dracut; rebuild it by hand: chroot %s, then your distribution's tool",
                   name, reasons, root)
        else:
            notice("rebuilding %s: %s", name, reasons)
            with chroot_mounts(root):
                run(decision.command, timeout=3600,
                    hint=f"rebuild it by hand: chroot {root} {' '.join(decision.command[2:])}")
