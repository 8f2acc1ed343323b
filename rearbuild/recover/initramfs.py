"""The restored system's initramfs: what is inside it, read without the distribution's tools (lsinitramfs, lsinitrd
may be missing from a restored system, and running them needs a working chroot), and whether it must be rebuilt.

An initramfs is one or more newc cpio archives, each uncompressed (early microcode) or compressed, concatenated
(Documentation/driver-api/early-userspace/buffer-format.rst). Only the member names are needed here.

It is rebuilt only when it is needed (ReaR rebuilds it always, which took ~9 of its ~11 minutes of recovery when
measured under emulation): in migration mode, when device names or UUIDs changed, when REBUILD_INITRAMFS=y, or
when it lacks a driver this hardware needs for the root file system — checked by reading the initramfs, not
guessed.
"""

from __future__ import annotations

import logging
import lzma
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from rearbuild import newc
from rearbuild.collect.kmod.names import module_stem, normalize
from rearbuild.compression import Codec
from rearbuild.errors import UserError
from rearbuild.facts import parse_os_release
from rearbuild.log import notice
from rearbuild.recover import target
from rearbuild.recover.chroot import chroot, chroot_mounts
from rearbuild.run import run

log = logging.getLogger("rearbuild.recover")

# Compressions the kernel accepts for an initramfs (usr/Kconfig: RD_GZIP, RD_XZ, RD_LZMA, RD_ZSTD...) that
# this reader decodes.
_INITRAMFS_CODECS = (Codec.GZIP, Codec.XZ, Codec.LZMA, Codec.ZSTD)


def _decompress(data: bytes, where: str) -> bytes:
    codec = Codec.sniff(data)
    if codec in _INITRAMFS_CODECS:
        return codec.decode_first_stream(data)
    raise UserError(f"{where}: unknown initramfs compression (first bytes {data[:6].hex()})")


def members(path: Path) -> set[str]:
    """Every path inside the initramfs, without leading './'."""
    data = path.read_bytes()
    names: list[str] = []
    pos = 0
    while pos < len(data):
        while pos < len(data) and data[pos] == 0:  # padding between archives
            pos += 1
        if pos >= len(data):
            break
        if data[pos : pos + len(newc.NEWC_MAGIC)] == newc.NEWC_MAGIC:
            found, pos = newc.read_names(data, pos)
            names += found
            continue
        rest = _decompress(data[pos:], str(path))
        inner = 0
        while inner < len(rest):
            while inner < len(rest) and rest[inner] == 0:
                inner += 1
            if rest[inner : inner + len(newc.NEWC_MAGIC)] != newc.NEWC_MAGIC:
                break
            found, inner = newc.read_names(rest, inner)
            names += found
        break  # a compressed archive runs to the end of the file (the kernel reads it so, too)
    return {n[2:] if n.startswith("./") else n for n in names}


def has_module(contents: set[str], module: str) -> bool:
    """Whether a kernel module (name with _ or -) is among the members (.ko, .ko.xz, .ko.zst, .ko.gz)."""
    wanted = normalize(module)
    return any(module_stem(name) == wanted for name in contents)


# ---------------------------------------------------------------------------------------------------
# Whether to rebuild


class RebuildChoice(Enum):
    """REBUILD_INITRAMFS: y always rebuilds, n never, anything else (the default) when needed."""

    YES = "yes"
    NO = "no"
    AUTO = "when needed"

    @classmethod
    def of(cls, answer: bool | None) -> RebuildChoice:
        """From the setting's yes/no/empty (Config.tristate)."""
        return cls.AUTO if answer is None else cls.YES if answer else cls.NO


@dataclass(frozen=True)
class Initramfs:
    """A kernel of the restored system and its initramfs."""

    version: str
    path: Path


@dataclass(frozen=True)
class Decision:
    """What to do with one initramfs: rebuild it (reasons given) with command, or keep it (no reasons).
    command is None when the restored system has no tool to rebuild it with."""

    initramfs: Initramfs
    reasons: tuple[str, ...]
    command: tuple[str, ...] | None

    @property
    def rebuild(self) -> bool:
        return bool(self.reasons)


# Every file of the restored system is looked up as its chroot sees it (recover.target.locate): a link in it
# (boot -> /x) names its own /x, never a file of the rescue system.


def _file(root: Path, relative: str) -> Path | None:
    found = target.locate(root, relative)
    return found if found is not None and found.is_file() else None


def installed(root: Path) -> list[Initramfs]:
    """The kernels of the restored system that have an initramfs, with its path."""
    boot = target.locate(root, "boot")
    if boot is None or not boot.is_dir():
        return []
    found = []
    for kernel in sorted(boot.glob("vmlinuz-*")):
        version = kernel.name[len("vmlinuz-") :]
        for name in (f"initrd.img-{version}", f"initramfs-{version}.img", f"initrd-{version}"):
            path = _file(root, f"boot/{name}")
            if path is not None:
                found.append(Initramfs(version, path))
                break
    return found


def builtin_modules(root: Path, version: str) -> frozenset[str]:
    """The module names of lib/modules/VERSION/modules.builtin of the restored system (none without it)."""
    builtin = _file(root, f"lib/modules/{version}/modules.builtin")
    if builtin is None:
        return frozenset()
    return frozenset(name for line in builtin.read_text().splitlines() if (name := module_stem(line)) is not None)


def rebuild_command(root: Path, version: str) -> tuple[str, ...] | None:
    """The distribution's command that rebuilds the initramfs of one kernel, run in a chroot of root."""
    release_file = _file(root, "etc/os-release") or _file(root, "usr/lib/os-release")
    release = parse_os_release(release_file.read_text(errors="replace")) if release_file is not None else {}
    family = {release.get("ID", ""), *release.get("ID_LIKE", "").split()}
    if family & {"debian", "ubuntu"} and target.locate(root, "usr/sbin/update-initramfs") is not None:
        return tuple(chroot(root, "update-initramfs", "-u", "-k", version))
    if target.locate(root, "usr/bin/dracut") is not None or target.locate(root, "usr/sbin/dracut") is not None:
        return tuple(chroot(root, "dracut", "-f", f"/boot/initramfs-{version}.img", version))
    return None


def decide(
    root: Path,
    choice: RebuildChoice,
    *,
    migration: bool,
    identities_changed: bool,
    needed: Iterable[str],
) -> tuple[Decision, ...]:
    """For each initramfs of the restored system at root, whether it must be rebuilt and why.

    needed: the modules the root file system needs on this hardware (recover.storage.root_modules).
    """
    if choice is RebuildChoice.NO:
        return ()
    needed = set(needed)
    reasons_common = []
    if choice is RebuildChoice.YES:
        reasons_common.append("REBUILD_INITRAMFS=y")
    if migration:
        reasons_common.append("migration mode")
    if identities_changed:
        reasons_common.append("device names or UUIDs changed")
    decisions = []
    for initramfs in installed(root):
        reasons = list(reasons_common)
        try:
            contents = members(initramfs.path)
        except (OSError, ValueError, EOFError, lzma.LZMAError, UserError) as exc:
            # an unreadable initramfs is one more reason to make a new one
            reasons.append(f"cannot read {initramfs.path.name}: {exc}")
            contents = set()
        builtin = builtin_modules(root, initramfs.version)
        missing = sorted(m for m in needed if contents and normalize(m) not in builtin and not has_module(contents, m))
        if missing:
            reasons.append(f"it lacks {', '.join(missing)} needed for / on this hardware")
        command = rebuild_command(root, initramfs.version) if reasons else None
        decisions.append(Decision(initramfs, tuple(reasons), command))
    return tuple(decisions)


def rebuild(root: Path, decisions: Iterable[Decision], needed: Iterable[str]) -> None:
    """Carry the decisions out in the restored system; what cannot be rebuilt is a warning saying what to do."""
    for decision in decisions:
        name, reasons = decision.initramfs.path.name, "; ".join(decision.reasons)
        if not decision.rebuild:
            log.info("initramfs %s has what this hardware needs (%s): kept", name, ", ".join(sorted(needed)))
        elif decision.command is None:
            notice(
                "WARNING: the initramfs %s should be rebuilt (%s), but the restored system has neither "
                "update-initramfs nor dracut; rebuild it by hand: chroot %s, then your distribution's tool",
                name, reasons, root,
            )  # fmt: skip
        else:
            notice("rebuilding %s: %s", name, reasons)
            with chroot_mounts(root):
                run(list(decision.command), timeout=3600,
                    hint=f"rebuild it by hand: chroot {root} {' '.join(decision.command[2:])}")  # fmt: skip
