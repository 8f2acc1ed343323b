"""Fail early, before anything is built, when the tools that capture the disk layout are missing (lsblk,
sfdisk and findmnt from util-linux; ReaR's REQUIRED_PROGS has them too). A cheap PATH lookup, so that mkrescue,
which shares this stage, pays nothing for it."""

from __future__ import annotations

import shutil

from rearbuild.context import Context
from rearbuild.errors import UserError

_REQUIRED = ("lsblk", "sfdisk", "findmnt")


def main(ctx: Context) -> None:
    missing = [tool for tool in _REQUIRED if shutil.which(tool) is None]
    if missing:
        raise UserError(
            f"cannot capture the disk layout: {', '.join(missing)} not found",
            hint="install util-linux (and fdisk on Debian for sfdisk)",
        )
