"""Find the kernel a rescue image boots: its version and its image file.

The version is the one the user named (-r), else the running kernel's; it must have a modules tree in
the sysroot, because a rescue image without its kernel's modules cannot see its disks. The file is
KERNEL_FILE when given, else the first existing name in the list below, modelled on ReaR's
prep/GNU/Linux/400_guess_kernel.sh (Debian/RHEL/SUSE vmlinuz-KVER, vmlinux on POWER, Gentoo,
Arch and Slackware names, and the vmlinuz that Fedora and Arch keep in the modules directory).
"""

from __future__ import annotations

import glob
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from rearbuild.errors import UserError
from rearbuild.log import notice

# Names that carry the version, tried in this order ({v} is the kernel version).
_VERSIONED_NAMES = (
    "boot/vmlinuz-{v}",  # Debian, Ubuntu, RHEL, SUSE (x86)
    "boot/vmlinux-{v}",  # POWER, and uncompressed kernels
    "boot/kernel-{v}",  # Gentoo (installkernel), Void
    "boot/bzImage-{v}",
    "boot/Image-{v}",  # arm64
    "boot/zImage-{v}",  # arm
    "boot/image-{v}",  # s390x (SUSE)
    "lib/modules/{v}/vmlinuz",  # Fedora >= 23, Arch (kernel-install layout)
    "usr/lib/modules/{v}/vmlinuz",
)
# Globs for names that carry the version in the middle (Gentoo genkernel: kernel-genkernel-ARCH-VERSION).
_VERSIONED_GLOBS = ("boot/kernel-genkernel-*-{v}",)
# Names without the version: accepted only when the version string inside the bzImage matches.
_UNVERSIONED_GLOBS = (
    "boot/vmlinuz-linux*",  # Arch: vmlinuz-linux, vmlinuz-linux-lts, ...
    "boot/vmlinuz",  # Slackware, SUSE symlink
    "boot/efi/EFI/Slackware/vmlinuz*",
    "boot/vmlinuz-*",
)

# x86 boot protocol setup header (Documentation/arch/x86/boot.rst, "The real-mode kernel header"):
#   0x202  header  4s  magic b"HdrS"
#   0x206  version H   boot protocol version; kernel_version exists from 2.00 on
#   0x208  realmode_swtch (4 bytes) and start_sys_seg (2 bytes), skipped
#   0x20E  kernel_version H  pointer to a NUL-terminated version string, minus 0x200
_SETUP_HEADER = struct.Struct("<4sH6xH")
_SETUP_HEADER_OFFSET = 0x202
_HDRS_MAGIC = b"HdrS"
_VERSION_STRING_BASE = 0x200


@dataclass(frozen=True)
class KernelImage:
    """The kernel of the rescue image: its release (uname -r) and its file (a host path)."""

    version: str
    path: Path


def bzimage_version(path: Path) -> str | None:
    """The release embedded in an x86 bzImage (the first word of its version string), or None."""
    try:
        with open(path, "rb") as f:
            f.seek(_SETUP_HEADER_OFFSET)
            header = f.read(_SETUP_HEADER.size)
            if len(header) < _SETUP_HEADER.size:
                return None
            magic, protocol, pointer = _SETUP_HEADER.unpack(header)
            if magic != _HDRS_MAGIC or protocol < 0x200 or pointer == 0:
                return None
            f.seek(pointer + _VERSION_STRING_BASE)
            text = f.read(256).split(b"\0", 1)[0].decode("ascii", "replace")
    except OSError:
        return None
    words = text.split()
    return words[0] if words else None


def installed_versions(sysroot: Path) -> list[str]:
    """The kernel versions with a modules tree (a modules.dep or a kernel/ directory) in the sysroot."""
    found: set[str] = set()
    for base in ("lib/modules", "usr/lib/modules"):
        directory = sysroot / base
        if not directory.is_dir():
            continue
        for entry in directory.iterdir():
            if (entry / "modules.dep").is_file() or (entry / "kernel").is_dir():
                found.add(entry.name)
    return sorted(found)


def modules_tree(sysroot: Path, version: str) -> Path:
    """<sysroot>/lib/modules/VERSION (or usr/lib/modules on systems without the /lib symlink)."""
    for base in ("lib/modules", "usr/lib/modules"):
        directory = sysroot / base / version
        if directory.is_dir():
            return directory
    return sysroot / "lib/modules" / version


def kernel_version(sysroot: Path, requested: str | None = None) -> str:
    """The kernel version to build for: `requested` (-r) or the running kernel; it must have modules."""
    version = requested or os.uname().release
    if modules_tree(sysroot, version).is_dir():
        return version
    installed = installed_versions(sysroot)
    where = sysroot / "lib/modules" / version
    if requested:
        message = f"kernel version {version} has no modules tree: {where} does not exist"
    else:
        message = f"the running kernel {version} has no modules tree ({where} does not exist)"
    if installed:
        listing = ", ".join(installed)
        message += f"; installed kernel versions: {listing}"
        hint = f"build for an installed kernel with -r VERSION, e.g. -r {installed[-1]}"
    else:
        message += f"; no kernel modules are installed under {sysroot / 'lib/modules'}"
        hint = "install a kernel package (on Debian: apt-get install linux-image-amd64) and use -r VERSION"
    raise UserError(message, hint=hint)


def find_kernel(sysroot: Path, version: str, kernel_file: Path | None = None) -> KernelImage:
    """The kernel image for `version`: `kernel_file` (KERNEL_FILE) if given, else a known name."""
    if kernel_file is not None:
        path = kernel_file if kernel_file.is_absolute() else Path.cwd() / kernel_file
        if sysroot != Path("/") and not str(path).startswith(str(sysroot)):
            path = sysroot / path.relative_to("/")
        if not path.is_file():
            raise UserError(
                f"KERNEL_FILE {kernel_file} does not exist or is not a file",
                hint="set KERNEL_FILE to the kernel image to boot, or leave it empty to autodetect",
            )
        return KernelImage(version, path)
    for name in _VERSIONED_NAMES:
        candidate = sysroot / name.format(v=version)
        if candidate.is_file():
            return KernelImage(version, candidate)
    for pattern in _VERSIONED_GLOBS:
        for match in sorted(glob.glob(str(sysroot / pattern.format(v=glob.escape(version))))):
            return KernelImage(version, Path(match))
    for pattern in _UNVERSIONED_GLOBS:
        for match in sorted(glob.glob(str(sysroot / pattern))):
            if Path(match).is_file() and bzimage_version(Path(match)) == version:
                return KernelImage(version, Path(match))
    tried = ", ".join(str(sysroot / n.format(v=version)) for n in _VERSIONED_NAMES[:3])
    raise UserError(
        f"no kernel image found for kernel version {version} (tried {tried} and other known names)",
        hint="set KERNEL_FILE to the kernel image to boot",
    )


def choose_kernel(sysroot: Path, requested: str, *, chosen_by_user: bool, kernel_file: str = "") -> KernelImage:
    """The kernel of the rescue system (ReaR: prep/GNU/Linux/400_guess_kernel.sh). requested: KERNEL_VERSION
    (default: the running kernel); chosen_by_user: -r or a configuration file set it.

    When nobody chose and the running kernel has no modules here -- a container, a CI runner, a machine that was
    just upgraded -- the newest installed kernel is used, with a notice: the rescue system needs a kernel whose
    modules exist here.
    """
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
    return find_kernel(sysroot, version, Path(kernel_file) if kernel_file else None)
