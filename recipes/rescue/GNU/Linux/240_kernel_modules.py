"""Kernel modules and firmware for the rescue image (MODULES, MODULES_LOAD, EXCLUDE_MODULES, FIRMWARE_FILES),
with module indexes generated for exactly the chosen modules so that modprobe works in the rescue system."""

from __future__ import annotations

import logging
from pathlib import Path

from rearbuild.collect.kernel import KernelImage
from rearbuild.collect.kmod.image import collect_kernel_modules
from rearbuild.collect.records import maker_for
from rearbuild.context import Context
from rearbuild.errors import InternalError
from rearbuild.manifest import FileRecord

log = logging.getLogger("rearbuild.collect")


def main(ctx: Context) -> None:
    kernel = ctx.results.get("kernel")
    if not isinstance(kernel, KernelImage):
        raise InternalError("the kernel was not found in prep")
    # The generated indexes stay in the cache directory so that a manifest (and its bundle) can refer to them
    # after the run, and an unchanged module set reuses them.
    staging = ctx.paths.cache_dir / "modules"
    staging.mkdir(parents=True, exist_ok=True)
    chosen = collect_kernel_modules(
        Path("/"),
        kernel,
        staging,
        modules=ctx.items("MODULES"),
        modules_load=ctx.items("MODULES_LOAD"),
        exclude=ctx.items("EXCLUDE_MODULES"),
        firmware_files=ctx.items("FIRMWARE_FILES"),
    )
    maker = maker_for(ctx)
    records: list[FileRecord] = []
    for module in chosen.modules:
        records += maker.path(str(module.source), f"module {module.name}: {module.reason}")
    for firmware in chosen.firmware:
        reason = "firmware" + (f" of {', '.join(firmware.needed_by)}" if firmware.needed_by else " (FIRMWARE_FILES)")
        if firmware.link is not None:
            records += maker.path("/" + str(firmware.target), reason)
        else:
            records += maker.placed(str(firmware.source), "/" + str(firmware.target), reason)
    for index in chosen.index_files:
        records += maker.placed(
            str(index.source), "/" + str(index.target), "module index for the chosen modules", 0o644
        )
    for missing in chosen.missing_firmware:
        log.info("firmware %s (for %s) is not on this host", missing.name, ", ".join(missing.needed_by))
    ctx.results.setdefault("records", []).extend(records)
    ctx.results["modules"] = chosen
    log.info(
        "%d modules (%.1f MiB), %d firmware files, %d firmware files missing",
        len(chosen.modules),
        chosen.module_bytes / 2**20,
        len(chosen.firmware),
        len(chosen.missing_firmware),
    )
