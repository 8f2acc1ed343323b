"""`rearbuild build PATH`: load and verify the bundle (rearbuild.bundle), then take the host's effective
configuration from its manifest so the image equals the host's; the builder decides only where results go."""

from __future__ import annotations

import logging
from pathlib import Path

from rearbuild import __version__
from rearbuild.bundle import host_settings, load_bundle
from rearbuild.context import READONLY, Context
from rearbuild.errors import UserError
from rearbuild.facts import KernelCmdline
from rearbuild.log import notice

log = logging.getLogger("rearbuild.bundle")


def main(ctx: Context) -> None:
    args = ctx.options.workflow.parse_arguments(ctx.options.args)
    if not args.container and (args.engine or args.wheelhouse):
        raise UserError("--engine and --wheelhouse choose how `build --container` builds", hint="add --container")
    bundle = ctx.state.bundle = load_bundle(Path(args.bundle), ctx.tmp_dir)
    ctx.state.manifest = bundle.manifest
    ctx.cmdline = KernelCmdline(bundle.cmdline)  # the host's parameters, for COPY_KERNEL_PARAMETERS
    for name, value in host_settings(bundle.manifest).items():
        if name not in READONLY:  # the builder's own directories
            ctx.set(name, value)
    if bundle.manifest.tool_version != __version__:
        log.warning("the bundle was collected by rearbuild %s, this is %s: the image will differ from the host's",
                    bundle.manifest.tool_version, __version__)  # fmt: skip
    notice("bundle: %s (rearbuild %s, host %s)", args.bundle, bundle.manifest.tool_version,
           bundle.manifest.facts.get("HOSTNAME", "?"))  # fmt: skip
