"""What the target's ld.so substitutes ($LIB, $PLATFORM) and searches besides the plain directories."""

from __future__ import annotations

from dataclasses import dataclass

from rearbuild.collect.elf import ElfClass, ElfInfo
from rearbuild.collect.ldso.tree import Tree

# Debian multiarch triplets per (e_machine, class) (Debian's multiarch spec, wiki.debian.org/Multiarch/
# Tuples); e_machine numbers from glibc elf.h. Also the AT_PLATFORM string the kernel gives each machine.
_MULTIARCH: dict[tuple[int, ElfClass], tuple[str, str]] = {
    (62, ElfClass.ELF64): ("x86_64-linux-gnu", "x86_64"),  # EM_X86_64
    (3, ElfClass.ELF32): ("i386-linux-gnu", "i686"),  # EM_386
    (183, ElfClass.ELF64): ("aarch64-linux-gnu", "aarch64"),  # EM_AARCH64
    (40, ElfClass.ELF32): ("arm-linux-gnueabihf", "v7l"),  # EM_ARM
    (21, ElfClass.ELF64): ("powerpc64le-linux-gnu", "power8"),  # EM_PPC64
    (22, ElfClass.ELF64): ("s390x-linux-gnu", "z13"),  # EM_S390
    (243, ElfClass.ELF64): ("riscv64-linux-gnu", "riscv64"),  # EM_RISCV
}


@dataclass(frozen=True)
class LoaderCaps:
    """What the target's ld.so substitutes and searches besides the plain directories.

    lib: $LIB (Debian's glibc says "lib/x86_64-linux-gnu", Fedora's "lib64"); platform: $PLATFORM;
    trusted_dirs: the built-in system directories (`ld.so --help`, "system search path");
    hwcaps: glibc-hwcaps subdirectories in priority order (`ld.so --help`). Legacy hwcap subdirectories
    (tls/, haswell/, ... removed in glibc 2.37) are not searched.
    """

    lib: str
    platform: str
    trusted_dirs: tuple[str, ...]
    hwcaps: tuple[str, ...] = ()

    @classmethod
    def baseline(cls, tree: Tree, info: ElfInfo) -> LoaderCaps:
        """The caps of a machine without glibc-hwcaps levels: a rescue system must run on any CPU, so
        it resolves to the baseline libraries (their hwcaps variants can be added with hwcaps_variants)."""
        triplet, platform = _MULTIARCH.get((info.machine, info.elf_class), ("", ""))
        if triplet and tree.is_dir(f"/lib/{triplet}"):
            dirs: tuple[str, ...] = (f"/lib/{triplet}", f"/usr/lib/{triplet}", "/lib", "/usr/lib")
            return cls(f"lib/{triplet}", platform, dirs)
        if info.elf_class is ElfClass.ELF64:
            return cls("lib64", platform, ("/lib64", "/usr/lib64"))
        return cls("lib", platform, ("/lib", "/usr/lib"))

    @classmethod
    def from_diagnostics(cls, text: str, baseline: LoaderCaps) -> LoaderCaps:
        """The caps of a running glibc, from `ld.so --list-diagnostics` (glibc >= 2.33): its platform and
        active glibc-hwcaps subdirectories. Used to compare with ldd on the same machine."""
        values = {}
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key.strip()] = value.strip().strip('"')
        subdirs = tuple(s for s in values.get("dl_hwcaps_subdirs", "").split(":") if s)
        active = int(values.get("dl_hwcaps_subdirs_active", "0"), 0)
        # Bit i of the active mask is subdirectory i counted from the end of the list (elf/dl-hwcaps.c).
        hwcaps = tuple(s for i, s in enumerate(subdirs) if active >> (len(subdirs) - 1 - i) & 1)
        platform = values.get("dl_platform", baseline.platform)
        return cls(baseline.lib, platform, baseline.trusted_dirs, hwcaps)
