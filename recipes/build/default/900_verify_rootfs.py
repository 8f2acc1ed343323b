"""Every program in the image finds its libraries inside the image (ReaR: 990_verify_rootfs.sh runs ldd in a
chroot; here each DT_NEEDED is resolved in the composed entry list, no chroot, no ldd)."""

from __future__ import annotations

import logging

from rearbuild.build.cpio import Kind
from rearbuild.build.rootfs import Rootfs
from rearbuild.collect.ldso.mapped import ImageLink
from rearbuild.collect.ldso.verify import verify_rootfs
from rearbuild.context import Context
from rearbuild.errors import InternalError, UserError

log = logging.getLogger("rearbuild.build")

_PROGRAM_DIRS = ("/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/")


def main(ctx: Context) -> None:
    rootfs = ctx.results.get("rootfs")
    if not isinstance(rootfs, Rootfs):
        raise InternalError("no rootfs to verify")
    mapping: dict[str, str | ImageLink] = {}
    for path, entry in rootfs.entries.items():
        if entry.kind is Kind.SYMLINK and entry.target:
            mapping["/" + path] = ImageLink(entry.target)
        elif entry.kind is Kind.FILE and entry.source is not None:
            mapping["/" + path] = str(entry.source)
    missing = verify_rootfs(mapping)
    fatal = [m for m in missing if m.requester.startswith(_PROGRAM_DIRS)]
    for item in missing:
        log.warning("in the rescue image %s cannot find %s (%s)", item.requester, item.soname, item.detail)
    if fatal:
        raise UserError(
            f"{len(fatal)} program(s) of the rescue image would not run: "
            + ", ".join(f"{m.requester} needs {m.soname}" for m in fatal[:5]),
            hint="add the missing libraries to LIBS, or remove the programs from PROGS",
        )
