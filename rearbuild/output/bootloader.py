"""Boot loaders for the rescue ISO, found on the build host.

BIOS: isolinux.bin plus the syslinux 6 com32 modules the menu needs. Every .c32 module must come from the
same syslinux build as isolinux.bin (ldlinux.c32 refuses a mismatch), so they are looked up as a set per
distribution layout, never mixed.

UEFI, two ways (EfiLoader):
- STANDALONE_GRUB: a GRUB EFI binary made here with grub-mkimage, every module the grub.cfg uses built
  in (no memdisk, no `insmod` at boot) and a small embedded configuration that finds the ISO by its marker
  file. grub-mkimage is used rather than grub-mkstandalone because the latter packs a memdisk tar whose
  directory entries carry the time of the build (measured: two builds a second apart differ in 21 bytes);
  grub-mkimage output is byte-identical across builds. Unsigned: refused under Secure Boot.
- SIGNED_SHIM: the distribution's Microsoft-signed shim as BOOTX64.EFI and its signed GRUB next to it as
  grubx64.efi (shim loads that name from its own directory, rear#702/#1426). Debian's signed CD GRUB
  (gcdx64.efi.signed) finds its root by /.disk/info and reads /boot/grub/grub.cfg (vm-testing-notes.md),
  so the ISO must carry both. Boots with Secure Boot on.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rearbuild.errors import UserError
from rearbuild.run import run

# Where distributions install isolinux.bin and the BIOS com32 modules of the same syslinux build.
ISOLINUX_LAYOUTS: tuple[tuple[Path, Path], ...] = (
    (Path("/usr/lib/ISOLINUX"), Path("/usr/lib/syslinux/modules/bios")),  # Debian, Ubuntu
    (Path("/usr/share/syslinux"), Path("/usr/share/syslinux")),  # Fedora, RHEL, SUSE
    (Path("/usr/lib/syslinux/bios"), Path("/usr/lib/syslinux/bios")),  # Arch
    (Path("/usr/lib/syslinux"), Path("/usr/lib/syslinux")),  # syslinux 4/5 era, Debian before 8
)
# ldlinux.c32 is the core every syslinux 6 variant loads; menu.c32 draws the menu (plain text, so it works
# on the serial console, unlike vesamenu.c32); chain.c32 boots the first disk; libutil.c32 and
# libcom32.c32 are their shared libraries (syslinux doc/menu.txt, com32 module dependencies).
ISOLINUX_MODULES = ("ldlinux.c32", "libcom32.c32", "libutil.c32", "menu.c32", "chain.c32")

# Signed shim + signed GRUB pairs, in order of preference.
SIGNED_SHIM_PAIRS: tuple[tuple[Path, Path], ...] = (
    (Path("/usr/lib/shim/shimx64.efi.signed"), Path("/usr/lib/grub/x86_64-efi-signed/gcdx64.efi.signed")),
    (
        Path("/usr/lib/shim/shimx64.efi.signed.latest"),  # Ubuntu
        Path("/usr/lib/grub/x86_64-efi-signed/gcdx64.efi.signed"),
    ),
    (Path("/boot/efi/EFI/fedora/shimx64.efi"), Path("/boot/efi/EFI/fedora/grubx64.efi")),  # Fedora
    (Path("/boot/efi/EFI/redhat/shimx64.efi"), Path("/boot/efi/EFI/redhat/grubx64.efi")),  # RHEL
    (Path("/usr/share/efi/x86_64/shim.efi"), Path("/usr/share/efi/x86_64/grub.efi")),  # SUSE
)

# The Debian packages of the first pair above (Ubuntu: the same names).
SIGNED_PACKAGES = ("shim-signed", "grub-efi-amd64-signed")
SIGNED_PACKAGES_ELSEWHERE = "Fedora/RHEL: shim-x64 grub2-efi-x64; SUSE: shim grub2-x86_64-efi"

GRUB_EFI_MODULE_DIRS = (Path("/usr/lib/grub/x86_64-efi"), Path("/usr/lib/grub2/x86_64-efi"))
# Everything the generated grub.cfg and the embedded configuration use, built into the image because a
# GRUB that must `insmod` from the ISO breaks as soon as a module is missing or Secure Boot is on
# (rear#3326, rear#3031). iso9660 reads the ISO; part_* and fat the isohybrid disk, ext2 a USB medium's data
# partition (rearbuild.output.usb); linux and the video
# modules boot the kernel (efi_gop/efi_uga give it a frame buffer); serial/terminal drive ttyS0.
GRUB_MODULES = (
    "all_video",
    "configfile",
    "echo",
    "efi_gop",
    "ext2",
    "efi_uga",
    "fat",
    "halt",
    "iso9660",
    "linux",
    "normal",
    "part_gpt",
    "part_msdos",
    "reboot",
    "search",
    "search_fs_file",
    "search_label",
    "serial",
    "sleep",
    "terminal",
    "test",
)
EFI_BOOT_DIR = "EFI/BOOT"
EFI_FALLBACK_NAME = "BOOTX64.EFI"  # UEFI 2.x §3.5.1.1, removable media boot path for x64
SHIM_NEXT_STAGE = "grubx64.efi"  # shim's DEFAULT_LOADER


@dataclass(frozen=True)
class IsolinuxFiles:
    """isolinux.bin and the com32 modules (file name -> path) of one syslinux installation."""

    isolinux_bin: Path
    modules: Mapping[str, Path]


@dataclass(frozen=True)
class SignedShim:
    shim: Path
    grub: Path

    @property
    def vendor_dir(self) -> str | None:
        """For a shim taken from an ESP (…/EFI/debian/shimx64.efi): the directory name, where the distribution's
        disk GRUB beside it has its built-in prefix and so looks for grub.cfg (grub-mkimage -p /EFI/<vendor>)."""
        parent = self.shim.parent
        return parent.name if parent.parent.name.upper() == "EFI" and parent.name.upper() != "BOOT" else None


def find_isolinux(
    layouts: Sequence[tuple[Path, Path]] = ISOLINUX_LAYOUTS, modules: Sequence[str] = ISOLINUX_MODULES
) -> IsolinuxFiles:
    """Find isolinux.bin and `modules` installed together; UserError names what is missing."""
    for bin_dir, module_dir in layouts:
        isolinux_bin = bin_dir / "isolinux.bin"
        if not isolinux_bin.is_file():
            continue
        found = {name: module_dir / name for name in modules}
        missing = [name for name, path in found.items() if not path.is_file()]
        if missing:
            raise UserError(
                f"found {isolinux_bin} but not {', '.join(missing)} in {module_dir}",
                hint="apt-get install syslinux-common (Fedora/SUSE: syslinux)",
            )
        return IsolinuxFiles(isolinux_bin=isolinux_bin, modules=found)
    searched = ", ".join(str(bin_dir) for bin_dir, _ in layouts)
    raise UserError(
        f"isolinux.bin not found (looked in {searched})",
        hint="apt-get install isolinux syslinux-common (Fedora/SUSE: syslinux)",
    )


def find_signed_shim(pairs: Sequence[tuple[Path, Path]] = SIGNED_SHIM_PAIRS) -> SignedShim | None:
    for shim, grub in pairs:
        if shim.is_file() and grub.is_file():
            return SignedShim(shim=shim, grub=grub)
    return None


def find_grub_efi_modules(dirs: Sequence[Path] = GRUB_EFI_MODULE_DIRS) -> Path:
    for directory in dirs:
        if (directory / "kernel.img").is_file():
            return directory
    raise UserError(
        f"GRUB's x86_64-efi modules not found (looked in {', '.join(map(str, dirs))})",
        hint="apt-get install grub-efi-amd64-bin (Fedora: grub2-efi-x64-modules)",
    )


def build_standalone_grub(
    out: Path,
    *,
    early_config: Path,
    module_dir: Path | None = None,
    modules: Sequence[str] = GRUB_MODULES,
) -> Path:
    """Make an x86_64 EFI GRUB with `modules` built in and `early_config` embedded (-c).

    The prefix is only a fallback: the embedded configuration sets root and prefix from the ISO itself.
    """
    directory = module_dir if module_dir is not None else find_grub_efi_modules()
    out.parent.mkdir(parents=True, exist_ok=True)
    tool = "grub-mkimage"
    run(
        [
            tool,
            "-O",
            "x86_64-efi",
            "-d",
            directory,
            "-p",
            "/boot/grub",
            "-c",
            early_config,
            "-o",
            out,
            *sorted(modules),
        ],
        hint="apt-get install grub-common grub-efi-amd64-bin (Fedora: grub2-tools grub2-efi-x64-modules)",
    )
    return out


class EfiLoader(enum.Enum):
    """How the ISO boots on UEFI."""

    STANDALONE_GRUB = "standalone-grub"
    SIGNED_SHIM = "signed-shim"

    @property
    def secure_boot(self) -> bool:
        """Whether firmware with Secure Boot on accepts it."""
        return self is EfiLoader.SIGNED_SHIM

    @property
    def needs_disk_info(self) -> bool:
        """Debian's signed CD GRUB finds its ISO by /.disk/info."""
        return self is EfiLoader.SIGNED_SHIM

    def efi_files(
        self, workdir: Path, *, early_config: str, chain: SignedShim | None = None
    ) -> dict[str, Path | bytes]:
        """The files of the EFI boot image (path in the FAT image -> source). chain: the signed shim and GRUB
        chosen by rearbuild.output.secureboot (None: the distribution's)."""
        config = early_config.encode()
        # Also where a signed GRUB looks first: its prefix is the directory it was loaded from.
        files: dict[str, Path | bytes] = {f"{EFI_BOOT_DIR}/grub.cfg": config}
        if self is EfiLoader.SIGNED_SHIM:
            pair = chain if chain is not None else find_signed_shim()
            if pair is None:
                raise UserError(
                    "the signed shim and GRUB are not installed",
                    hint=f"apt-get install {' '.join(SIGNED_PACKAGES)}",
                )
            files[f"{EFI_BOOT_DIR}/{EFI_FALLBACK_NAME}"] = pair.shim
            files[f"{EFI_BOOT_DIR}/{SHIM_NEXT_STAGE}"] = pair.grub
            if pair.vendor_dir is not None:
                files[f"EFI/{pair.vendor_dir}/grub.cfg"] = config
        else:
            cfg = workdir / "grub-early.cfg"
            cfg.write_bytes(config)
            files[f"{EFI_BOOT_DIR}/{EFI_FALLBACK_NAME}"] = build_standalone_grub(
                workdir / "bootx64.efi", early_config=cfg
            )
        return files
