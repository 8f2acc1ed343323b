"""The kernel of the rescue system (ReaR: prep/GNU/Linux/400_guess_kernel.sh), and its version.

When nobody asked for a version (-r, KERNEL_VERSION) and the running kernel has no modules on this host -- a
container, a CI runner, a machine that was just upgraded -- the newest installed kernel is used, with a notice:
the rescue system needs a kernel whose modules exist here.
"""

from __future__ import annotations

from pathlib import Path

from rearbuild.collect.kernel import find_kernel, installed_versions, kernel_version, modules_tree
from rearbuild.context import Context
from rearbuild.log import notice
from rearbuild.workflow import Workflow


def main(ctx: Context) -> None:
    if not Workflow.parse(ctx.options.workflow).builds_image:
        return  # mkbackuponly, checklayout: no rescue image, no kernel needed
    sysroot = Path("/")
    requested = ctx.text("KERNEL_VERSION")
    chosen_by_user = ctx.options.kernel_version is not None or not ctx.config.origin("KERNEL_VERSION").endswith(
        "default.conf"
    )
    if not chosen_by_user and not modules_tree(sysroot, requested).is_dir():
        installed = installed_versions(sysroot)
        if installed:
            notice(
                "the running kernel %s has no modules here; building for the installed kernel %s "
                "(choose another with -r VERSION)",
                requested,
                installed[-1],
            )
            requested = installed[-1]
    version = kernel_version(sysroot, requested)
    kernel_file = ctx.text("KERNEL_FILE")
    kernel = find_kernel(sysroot, version, Path(kernel_file) if kernel_file else None)
    ctx.set("KERNEL_VERSION", kernel.version)
    ctx.set("KERNEL_FILE", str(kernel.path))
    ctx.results["kernel"] = kernel
