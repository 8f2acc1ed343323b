"""Finalize works on the restored system mounted at the target root; demo mode and --plan stop here."""

from __future__ import annotations

from rearbuild.context import Context
from rearbuild.errors import UserError
from rearbuild.log import notice
from rearbuild.recover.options import recover_options
from rearbuild.recover.recreate import stopped


def main(ctx: Context) -> None:
    options = recover_options(ctx)
    if stopped(ctx):
        return
    if options.demo:
        notice("demo: would now patch device names and UUIDs, check the initramfs and install the boot loader")
        return
    root = options.target_root
    if not root.is_dir() or not any(root.iterdir()):
        raise UserError(f"nothing was restored into {root}", hint="check the restore stage's messages in the log")
    ctx.results["finalize_root"] = root
