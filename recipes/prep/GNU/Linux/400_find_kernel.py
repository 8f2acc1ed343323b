"""The kernel of the rescue system and its version (ReaR: prep/GNU/Linux/400_guess_kernel.sh); see
rearbuild.collect.kernel.choose_kernel for the choice when nobody asked for a version."""

from __future__ import annotations

from pathlib import Path

from rearbuild.collect.kernel import choose_kernel
from rearbuild.context import Context


def main(ctx: Context) -> None:
    if not ctx.options.workflow.builds_image:
        return  # mkbackuponly, checklayout: no rescue image, no kernel needed
    chosen_by_user = ctx.options.kernel_version is not None or not ctx.config.origin("KERNEL_VERSION").endswith(
        "default.conf"
    )
    kernel = choose_kernel(
        Path("/"), ctx.text("KERNEL_VERSION"), chosen_by_user=chosen_by_user, kernel_file=ctx.text("KERNEL_FILE")
    )
    ctx.set("KERNEL_VERSION", kernel.version)
    ctx.set("KERNEL_FILE", str(kernel.path))
    ctx.state.kernel = kernel
