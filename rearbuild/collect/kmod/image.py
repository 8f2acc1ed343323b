"""Kernel, modules, firmware and module indexes of a rescue image, chosen the way ReaR's MODULES variables say."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from rearbuild.collect.kernel import KernelImage
from rearbuild.collect.kmod.depmod import IndexFile, write_module_indexes
from rearbuild.collect.kmod.firmware import (
    FirmwareFile,
    FirmwareMode,
    MissingFirmware,
    collect_firmware,
    module_firmware,
)
from rearbuild.collect.kmod.index import ModuleIndex, load_order
from rearbuild.collect.kmod.selection import ModulesKeyword, Reason, loaded_modules, select_modules


@dataclass(frozen=True)
class ModuleFile:
    name: str
    source: Path  # the host file
    target: PurePosixPath  # path in the image, relative to its root
    reason: Reason



@dataclass(frozen=True)
class KernelModules:
    """Kernel, modules, firmware and module indexes of a rescue image (all targets relative to its root)."""

    kernel: KernelImage
    modules: tuple[ModuleFile, ...]
    firmware: tuple[FirmwareFile, ...]
    missing_firmware: tuple[MissingFirmware, ...]
    index_files: tuple[IndexFile, ...]
    load_order: tuple[str, ...]  # insmod order for MODULES_LOAD at rescue boot
    missing_loaded: tuple[str, ...]
    excluded: tuple[str, ...]

    @property
    def module_bytes(self) -> int:
        return sum(m.source.stat().st_size for m in self.modules)


def collect_kernel_modules(
    sysroot: Path,
    kernel: KernelImage,
    staging: Path,
    *,
    modules: Sequence[str] = (),
    modules_load: Sequence[str] = (),
    exclude: Sequence[str] = ("scsi_debug",),
    firmware_files: Sequence[str] = (),
) -> KernelModules:
    """Choose modules (MODULES, MODULES_LOAD, EXCLUDE_MODULES), their firmware (FIRMWARE_FILES), and
    generate the module indexes under `staging` (see write_module_indexes)."""
    index = ModuleIndex.load(sysroot, kernel.version)
    keywords = ModulesKeyword.find(modules)
    # all_modules has them anyway, no_modules wants none
    skip_loaded = bool(keywords & {ModulesKeyword.ALL, ModulesKeyword.NONE})
    loaded = () if skip_loaded else loaded_modules(sysroot)
    selection = select_modules(index, modules, modules_load=modules_load, exclude=exclude, loaded=loaded)
    chosen = sorted(selection.modules, key=lambda m: index.paths[m])
    module_files = tuple(
        ModuleFile(
            name,
            index.file(name),
            PurePosixPath("lib/modules", kernel.version, index.paths[name]),
            selection.modules[name],
        )
        for name in chosen
    )
    if FirmwareMode.of(firmware_files) is FirmwareMode.NONE:
        firmware: tuple[FirmwareFile, ...] = ()
        missing: tuple[MissingFirmware, ...] = ()
    else:
        wanted = module_firmware(index, chosen)
        firmware, missing = collect_firmware(sysroot, kernel.version, wanted, firmware_files)
    index_files = write_module_indexes(index, chosen, staging) if chosen else ()
    # depmod orders a module's dependencies by a topological sort of the whole tree, so the image's
    # modules.dep may list them in another (equally valid) order than the host's: the order modprobe
    # will use at rescue boot is the one of the generated indexes.
    image_index = ModuleIndex.load(staging, kernel.version, config_root=sysroot) if chosen else index
    return KernelModules(
        kernel=kernel,
        modules=module_files,
        firmware=firmware,
        missing_firmware=missing,
        index_files=index_files,
        load_order=load_order(image_index, modules_load, exclude=exclude),
        missing_loaded=selection.missing_loaded,
        excluded=selection.excluded,
    )
