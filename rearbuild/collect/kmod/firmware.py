"""Firmware for the image: the `firmware=` files of the chosen modules, or ReaR's FIRMWARE_FILES."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path, PurePosixPath

from rearbuild.collect.kmod.index import GLOB_CHARS, ModuleIndex
from rearbuild.collect.kmod.modinfo import read_modinfos


class FirmwareMode(Enum):
    """ReaR's FIRMWARE_FILES. rearbuild's empty default differs on purpose: ReaR copies all of
    /lib/firmware (hundreds of MB, the main cause of oversized initrds: rear#2869, #3324); we copy
    the `firmware=` files of the chosen modules and list the ones missing on the host."""

    MODULES = "the firmware of the chosen modules"
    ALL = "all of lib/firmware"
    NONE = "no firmware"
    PATTERNS = "files matching the FIRMWARE_FILES patterns"

    @classmethod
    def of(cls, firmware_files: Sequence[str]) -> FirmwareMode:
        if not firmware_files:
            return cls.MODULES
        if len(firmware_files) == 1:
            word = firmware_files[0].strip().lower()
            if word in ("yes", "y", "true", "1", "on"):
                return cls.ALL
            if word in ("no", "n", "false", "0", "off"):
                return cls.NONE
        return cls.PATTERNS


@dataclass(frozen=True)
class FirmwareFile:
    """A file (or a symlink, kept as one: `link` is its text) of lib/firmware for the image."""

    source: Path
    target: PurePosixPath
    needed_by: tuple[str, ...]  # modules whose firmware= names it; empty for FIRMWARE_FILES=yes/globs
    link: str | None = None


@dataclass(frozen=True)
class MissingFirmware:
    name: str
    needed_by: tuple[str, ...]


# Where the kernel's firmware loader looks (drivers/base/firmware_loader/main.c, fw_path[]), and the
# suffixes it accepts with CONFIG_FW_LOADER_COMPRESS_ZSTD / _XZ (tried after the plain name).
_FIRMWARE_DIRS = ("lib/firmware/updates/{v}", "lib/firmware/updates", "lib/firmware/{v}", "lib/firmware")
_FIRMWARE_SUFFIXES = ("", ".zst", ".xz")
_MAX_LINKS = 40  # as the kernel's path walk (MAXSYMLINKS)


def module_firmware(index: ModuleIndex, modules: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """firmware name -> modules that name it in `firmware=` of their .modinfo."""
    names = [m for m in modules if m in index.paths]
    infos = read_modinfos(index.file(m) for m in names)
    wanted: dict[str, list[str]] = {}
    for module in names:
        for firmware in infos[index.file(module)].get("firmware"):
            wanted.setdefault(firmware, []).append(module)
    return {k: tuple(v) for k, v in sorted(wanted.items())}


def _firmware_entries(sysroot: Path, relpath: str, needed_by: tuple[str, ...]) -> list[FirmwareFile]:
    """The file at sysroot/relpath, and if it is a symlink the link and (recursively) its target."""
    entries = []
    for _ in range(_MAX_LINKS):
        source = sysroot / relpath
        if source.is_symlink():
            text = os.readlink(source)
            entries.append(FirmwareFile(source, PurePosixPath(relpath), needed_by, link=text))
            if text.startswith("/"):
                relpath = os.path.normpath(text.lstrip("/"))
            else:
                relpath = os.path.normpath(os.path.join(os.path.dirname(relpath), text))
            continue
        if source.is_file():
            entries.append(FirmwareFile(source, PurePosixPath(relpath), needed_by))
        return entries
    return entries


def collect_firmware(
    sysroot: Path, version: str, wanted: Mapping[str, tuple[str, ...]], firmware_files: Sequence[str] = ()
) -> tuple[tuple[FirmwareFile, ...], tuple[MissingFirmware, ...]]:
    """Firmware files for the image and the `firmware=` names no file exists for.

    wanted: firmware name -> modules (module_firmware). firmware_files: FIRMWARE_FILES (FirmwareMode).
    """
    mode = FirmwareMode.of(firmware_files)
    dirs = [d.format(v=version) for d in _FIRMWARE_DIRS]
    files: dict[PurePosixPath, FirmwareFile] = {}
    missing = []
    for name, modules in wanted.items():
        found = []
        for directory in dirs:
            for suffix in _FIRMWARE_SUFFIXES:
                if GLOB_CHARS.isdisjoint(name):
                    candidates = [f"{directory}/{name}{suffix}"]
                else:  # some drivers name a glob (e.g. firmware=qcom/*.mbn)
                    candidates = sorted(
                        str(Path(p).relative_to(sysroot)) for p in (sysroot / directory).glob(name + suffix)
                    )
                for relpath in candidates:
                    if (sysroot / relpath).is_symlink() or (sysroot / relpath).is_file():
                        found += _firmware_entries(sysroot, relpath, modules)
        if not found:
            missing.append(MissingFirmware(name, modules))
        elif mode is FirmwareMode.MODULES:
            for entry in found:
                files.setdefault(entry.target, entry)
    if mode in (FirmwareMode.ALL, FirmwareMode.PATTERNS):
        base = sysroot / "lib/firmware"
        for root, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for filename in sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(root, d))]):
                full = Path(root) / filename
                relpath = str(full.relative_to(sysroot))
                if mode is FirmwareMode.PATTERNS and not any(
                    fnmatch.fnmatch("/" + relpath.lower(), p.lower()) for p in firmware_files
                ):  # ReaR: find /lib*/firmware -ipath PATTERN
                    continue
                for entry in _firmware_entries(sysroot, relpath, ()):
                    files.setdefault(entry.target, entry)
    return tuple(files[k] for k in sorted(files)), tuple(missing)
