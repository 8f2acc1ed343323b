"""The restored system's initramfs is rebuilt only when it is needed (rearbuild.recover.initramfs says when): in
migration mode, when device names or UUIDs changed, when REBUILD_INITRAMFS=y, or when it lacks a driver this
hardware needs for the root file system -- checked by reading the initramfs, not guessed. (ReaR rebuilds it always,
which took ~9 of its ~11 minutes of recovery when measured under emulation.)"""

from __future__ import annotations

from rearbuild.context import Context
from rearbuild.recover.initramfs import RebuildChoice, decide, rebuild
from rearbuild.recover.storage import root_modules


def main(ctx: Context) -> None:
    root = ctx.state.finalize_root
    choice = RebuildChoice.of(ctx.tristate("REBUILD_INITRAMFS"))
    if root is None or choice is RebuildChoice.NO:
        return
    needed = root_modules(root)
    migration = bool(ctx.tristate("MIGRATION_MODE"))
    decisions = decide(
        root, choice, migration=migration, identities_changed=ctx.state.identities_changed, needed=needed
    )
    rebuild(root, decisions, needed)
