"""Finalize works on the restored system mounted at the target root; demo mode and --plan stop here."""

from __future__ import annotations

from rearbuild.context import Context
from rearbuild.errors import UserError
from rearbuild.log import notice


def main(ctx: Context) -> None:
    if ctx.state.stop_after_plan:
        return
    if ctx.recover.demo:
        notice("demo: would now patch device names and UUIDs, check the initramfs and install the boot loader")
        return
    root = ctx.recover.target_root
    if not root.is_dir() or not any(root.iterdir()):
        raise UserError(f"nothing was restored into {root}", hint="check the restore stage's messages in the log")
    ctx.state.finalize_root = root
