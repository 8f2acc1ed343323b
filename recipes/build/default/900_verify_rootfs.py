"""Every program in the image finds its libraries inside the image (rearbuild.build.compose); a program of
/usr/bin or /usr/sbin that would not run stops the build, anything else is a warning."""

from __future__ import annotations

import logging

from rearbuild.build.compose import PROGRAM_DIRS, unresolved_libraries
from rearbuild.context import Context
from rearbuild.errors import UserError
from rearbuild.state import required

log = logging.getLogger("rearbuild.build")


def main(ctx: Context) -> None:
    missing = unresolved_libraries(required(ctx.state.rootfs, "the rootfs"))
    for item in missing:
        log.warning("in the rescue image %s cannot find %s (%s)", item.requester, item.soname, item.detail)
    fatal = [m for m in missing if m.requester.startswith(PROGRAM_DIRS)]
    if fatal:
        raise UserError(
            f"{len(fatal)} program(s) of the rescue image would not run: "
            + ", ".join(f"{m.requester} needs {m.soname}" for m in fatal[:5]),
            hint="add the missing libraries to LIBS, or remove the programs from PROGS",
        )
