"""The initrd: the rootfs as separately compressed, cached cpio segments (base, Python, rearbuild, modules,
firmware), mode 0600, with a size breakdown and the REAR_INITRD_SIZE_LIMIT budget."""

from __future__ import annotations

from rearbuild.build.compress import Compression
from rearbuild.build.initrd import BudgetAction, Segment, build_initrd, check_size_budget
from rearbuild.build.rootfs import Rootfs
from rearbuild.context import Context
from rearbuild.errors import InternalError
from rearbuild.log import notice


def main(ctx: Context) -> None:
    rootfs = ctx.results.get("rootfs")
    if not isinstance(rootfs, Rootfs):
        raise InternalError("no rootfs to pack")
    compression = Compression.parse(ctx.text("REAR_INITRD_COMPRESSION"))
    compression.require()
    if compression is Compression.LZ4:
        # The kernel stops unpacking after an lz4 (legacy format) archive that is followed by another one
        # (measured with Debian's 6.1): lz4 gets a single segment.
        segments = [Segment("initrd", tuple(rootfs.sorted_entries()), compression)]
    else:
        segments = [Segment(name, tuple(entries), compression) for name, entries in rootfs.segments().items()]
    output = ctx.tmp_dir / f"initrd{compression.suffix}"
    result = build_initrd(segments, output, cache_dir=ctx.paths.cache_dir / "initrd", epoch=ctx.epoch)
    for line in result.summary():
        notice("%s", line)
    limit = ctx.text("REAR_INITRD_SIZE_LIMIT").strip()
    if limit:
        action = BudgetAction.FAIL if ctx.flag("REAR_INITRD_SIZE_LIMIT_FATAL") else BudgetAction.WARN
        check_size_budget(result, ctx.number("REAR_INITRD_SIZE_LIMIT") * 2**20, action)
    ctx.results["initrd"] = result
