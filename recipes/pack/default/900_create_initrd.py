"""The initrd: the rootfs as separately compressed, cached cpio segments (base, Python, rearbuild, modules,
firmware), mode 0600, with a size breakdown and the REAR_INITRD_SIZE_LIMIT budget."""

from __future__ import annotations

from rearbuild.backup.progress import Progress
from rearbuild.build.compress import Compression
from rearbuild.build.initrd import BudgetAction, build_initrd, check_size_budget, rootfs_segments
from rearbuild.context import Context
from rearbuild.log import notice
from rearbuild.state import required


def main(ctx: Context) -> None:
    compression = Compression.parse(ctx.text("REAR_INITRD_COMPRESSION"))
    compression.require()
    segments = rootfs_segments(required(ctx.state.rootfs, "the rootfs"), compression)
    output = ctx.tmp_dir / f"initrd{compression.suffix}"
    progress = Progress("packing the initrd", None, terminal_only=True)  # a line on a terminal, nothing in a pipe
    result = build_initrd(
        segments, output, cache_dir=ctx.paths.cache_dir / "initrd", epoch=ctx.epoch, observe=progress.tap
    )
    progress.finish()
    for line in result.summary():
        notice("%s", line)
    if ctx.text("REAR_INITRD_SIZE_LIMIT").strip():
        action = BudgetAction.FAIL if ctx.flag("REAR_INITRD_SIZE_LIMIT_FATAL") else BudgetAction.WARN
        check_size_budget(result, ctx.number("REAR_INITRD_SIZE_LIMIT") * 2**20, action)
    ctx.state.initrd = result
