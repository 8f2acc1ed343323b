"""Kernel modules and firmware for the rescue image (MODULES, MODULES_LOAD, EXCLUDE_MODULES, FIRMWARE_FILES),
with module indexes generated for exactly the chosen modules so that modprobe works in the rescue system."""

from __future__ import annotations

import logging
from pathlib import Path

from rearbuild.collect.kmod.image import collect_kernel_modules
from rearbuild.collect.records import kernel_module_records
from rearbuild.context import Context
from rearbuild.log import to_file
from rearbuild.state import required

log = logging.getLogger("rearbuild.collect")


def main(ctx: Context) -> None:
    # The generated indexes stay in the cache directory so that a manifest (and its bundle) can refer to them
    # after the run, and an unchanged module set reuses them.
    staging = ctx.paths.cache_dir / "modules"
    staging.mkdir(parents=True, exist_ok=True)
    chosen = collect_kernel_modules(
        Path("/"),
        required(ctx.state.kernel, "the kernel (prep)"),
        staging,
        modules=ctx.items("MODULES"),
        modules_load=ctx.items("MODULES_LOAD"),
        exclude=ctx.items("EXCLUDE_MODULES"),
        firmware_files=ctx.items("FIRMWARE_FILES"),
    )
    ctx.state.records += kernel_module_records(ctx.record_maker(), chosen)
    for missing in chosen.missing_firmware:  # hundreds on a usual host: the log keeps them, -v shows the count
        to_file("firmware %s (for %s) is not on this host", missing.name, ", ".join(missing.needed_by))
    ctx.state.modules = chosen
    log.info(
        "%d modules (%.1f MiB), %d firmware files, %d firmware files missing (listed in the log and the manifest)",
        len(chosen.modules), chosen.module_bytes / 2**20, len(chosen.firmware), len(chosen.missing_firmware),
    )  # fmt: skip
