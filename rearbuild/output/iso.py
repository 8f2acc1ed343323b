"""Write an ISO 9660 image with pycdlib: BIOS (isolinux) and UEFI El Torito boot, isohybrid, reproducible.

The layout follows ReaR's mkisofs call (rear-upstream-study.md §4.4: -iso-level 3, -R, -J,
-b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot -boot-load-size 4 -boot-info-table,
-eltorito-alt-boot -e boot/efiboot.img) and adds what ReaR leaves out: an isohybrid MBR + GPT so the same
file boots from a USB stick (pycdlib's add_isohybrid, peer-techniques.md §B4).

Reproducible: the result depends only on the files, the volume id, `epoch` and `seed`. pycdlib's clock,
timezone, GPT GUIDs and randomness are pinned (rearbuild.output.pinned), the MBR id is derived from the
seed, directories and files are added in sorted order, and Rock Ridge modes are pycdlib's fixed defaults
rather than the source files' (so umask and ownership do not leak in).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import pycdlib
import pycdlib.isohybrid
from pycdlib.pycdlibexception import PyCdlibException

from rearbuild.checksum import sha256_file
from rearbuild.errors import InternalError, UserError
from rearbuild.output.pinned import derive_u32, pinned_pycdlib

DEFAULT_VOLUME_ID = "RELAXRECOVER"  # ReaR's ISO_VOLID
# ECMA-119 §8.4.6: the volume identifier is up to 32 d-characters (§7.4.1: A-Z 0-9 _).
_VOLUME_ID = re.compile(r"[A-Z0-9_]{1,32}")
_NOT_D_CHARS = re.compile(r"[^A-Z0-9_]")
# ECMA-119 §7.5.2 / §7.6.3 at interchange level 2 and 3: a file name plus extension has at most 30
# characters, a directory identifier at most 31.
MAX_FILE_ID = 30
MAX_DIR_ID = 31
# ECMA-119 §6.8.2.1: at most 8 levels of directories (the root counts as one).
MAX_DEPTH = 8
# Joliet (Microsoft's Joliet specification, 1995): names of up to 64 UCS-2 characters.
MAX_JOLIET_NAME = 64
# El Torito 1.0 §2.2 "Sector Count": isolinux wants 4 virtual 512-byte sectors loaded (isolinux.txt,
# mkisofs -boot-load-size 4), which is also what pycdlib's isohybrid requires.
ISOLINUX_LOAD_SECTORS = 4

IsoSource = Path | bytes


@dataclass(frozen=True)
class IsoImage:
    path: Path
    size: int
    sha256: str
    volume_id: str


@dataclass(frozen=True)
class IsoBoot:
    """El Torito boot entries; paths are real (Rock Ridge) paths of files in the ISO.

    bios: isolinux.bin (no-emulation, boot info table); efi: the FAT EFI boot image; hybrid: write an
    isohybrid MBR + GPT (needs the isolinux entry) so the ISO also boots as a disk.
    """

    bios: str | None = "/isolinux/isolinux.bin"
    catalog: str = "/isolinux/boot.cat"
    efi: str | None = "/boot/efiboot.img"
    hybrid: bool = True


class _Namer:
    """Maps real paths to unique ISO 9660 level 3 identifiers, directory by directory."""

    def __init__(self) -> None:
        self._taken: dict[PurePosixPath, set[str]] = {}
        self._names: dict[PurePosixPath, str] = {PurePosixPath("/"): ""}

    def iso_path(self, path: PurePosixPath, *, is_dir: bool) -> str:
        if path not in self._names:
            parent = self.iso_path(path.parent, is_dir=True)
            ident = self._unique(path.parent, path.name, is_dir=is_dir)
            self._names[path] = f"{parent}/{ident}"
        full = self._names[path]
        return full if is_dir else f"{full};1"

    def _unique(self, parent: PurePosixPath, name: str, *, is_dir: bool) -> str:
        taken = self._taken.setdefault(parent, set())
        if is_dir:
            base, ext, limit = _d_chars(name.replace(".", "_")), "", MAX_DIR_ID
        else:
            stem, dot, suffix = name.rpartition(".")
            if not dot or not stem:
                stem, suffix = name, ""
            ext = _d_chars(suffix)[:8]
            base, limit = _d_chars(stem), MAX_FILE_ID - len(ext)
        counter = 0
        while True:
            tag = f"_{counter}" if counter else ""
            candidate_base = (base[: limit - len(tag)] + tag) or "_"
            candidate = candidate_base if is_dir else f"{candidate_base}.{ext}"
            if candidate not in taken:
                taken.add(candidate)
                return candidate
            counter += 1


def _d_chars(text: str) -> str:
    return _NOT_D_CHARS.sub("_", text.upper())


def _real_path(name: str) -> PurePosixPath:
    path = PurePosixPath("/") / name
    if ".." in path.parts or len(path.parts) < 2:
        raise UserError(f"invalid path {name!r} for the ISO")
    if len(path.parts) > MAX_DEPTH:
        raise UserError(f"{path} is nested deeper than ISO 9660 allows ({MAX_DEPTH - 1} directories)")
    for part in path.parts[1:]:
        if len(part) > MAX_JOLIET_NAME:
            raise UserError(f"{path}: {part!r} is longer than Joliet's {MAX_JOLIET_NAME} characters")
    return path


# Rock Ridge mode of every file: pycdlib's default for in-memory files (regular, r--r--r--). Given an open file
# pycdlib would copy its st_mode instead, so the umask of whoever unpacked a bundle or installed the kernel
# would change the ISO's bytes.
_FILE_MODE = 0o100444

def _open(stack: contextlib.ExitStack, source: IsoSource) -> tuple[BinaryIO, int]:
    if isinstance(source, bytes):
        return io.BytesIO(source), len(source)
    try:
        fp = stack.enter_context(source.open("rb"))
    except OSError as exc:
        raise UserError(f"cannot read {source} for the ISO: {exc.strerror}") from exc
    return fp, os.fstat(fp.fileno()).st_size


@contextlib.contextmanager
def _replacing(out: Path, mode: int) -> Iterator[BinaryIO]:
    """A temporary file next to `out` that replaces it (with mode) only when the block succeeds."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as fp:
            yield fp
            fp.flush()
            os.fsync(fp.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


_PUBLIC_MODE = 0o644  # a rescue image holds no secrets (the encryption key never goes in)
_PRIVATE_MODE = 0o600  # one holding a backup holds /etc/shadow and every private key of the system


# The secondary GPT of an EFI isohybrid image sits in the last 33 sectors of 512 bytes: 32 sectors of partition
# entries and its header (UEFI spec 2.10, 5.3.1). pycdlib pads the image to the next 1 MiB "cylinder" and puts
# the secondary GPT at the end of that padding -- when the ISO's data ends less than 33 sectors before a cylinder
# boundary, the GPT overwrites the last file (seen: /boot/grub/grub.cfg zeroed, the UEFI boot dropped to grub>).
_BACKUP_GPT_BYTES = 33 * 512


@contextlib.contextmanager
def _room_for_backup_gpt() -> Iterator[None]:
    """While active, pycdlib pads an EFI isohybrid image by one more cylinder when the padding is too short."""
    original = pycdlib.isohybrid.IsoHybrid._calc_cc

    def calc_cc(self: pycdlib.isohybrid.IsoHybrid, iso_size: int) -> tuple[int, int]:
        cc, padding = original(self, iso_size)
        if self.efi and padding < _BACKUP_GPT_BYTES:
            cylinder = self.geometry_heads * self.geometry_sectors * 512
            padding += cylinder
            cc = min((iso_size + padding) // cylinder, 1024)
        return cc, padding

    pycdlib.isohybrid.IsoHybrid._calc_cc = calc_cc  # type: ignore[method-assign]
    try:
        yield
    finally:
        pycdlib.isohybrid.IsoHybrid._calc_cc = original  # type: ignore[method-assign]


def write_iso(
    out: Path,
    files: Mapping[str, IsoSource],
    *,
    epoch: int,
    seed: str,
    volume_id: str = DEFAULT_VOLUME_ID,
    boot: IsoBoot | None = IsoBoot(),
    private: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> IsoImage:
    """Write an ISO at `out` with `files` (real path in the ISO -> source file or bytes).

    epoch: the date of every record (seconds since 1970, UTC); seed: any string, the source of the MBR id
    and GPT GUIDs. The files named by `boot` must be among `files`. Large files are streamed.
    private: readable by its owner only (0600), for an ISO that holds a backup (every file of the system).
    progress: told (bytes written, bytes in all) while the ISO is written (pycdlib's progress_cb).
    """
    if not _VOLUME_ID.fullmatch(volume_id):
        raise UserError(f"ISO volume id {volume_id!r} must be 1-32 characters of A-Z, 0-9 and _")
    real = {_real_path(name): source for name, source in files.items()}
    boot_paths = [] if boot is None else [p for p in (boot.bios, boot.efi) if p is not None]
    for wanted in boot_paths:
        if _real_path(wanted) not in real:
            raise UserError(f"the boot file {wanted} is not among the ISO's files")
    if boot is not None and boot.hybrid and boot.bios is None:
        raise UserError("an isohybrid ISO needs the isolinux (BIOS) boot entry")

    namer = _Namer()
    directories = sorted(
        {parent for path in real for parent in path.parents if parent.parts[1:]}, key=lambda p: p.parts
    )
    iso = pycdlib.PyCdlib()
    try:
        with contextlib.ExitStack() as stack, pinned_pycdlib(epoch=epoch, seed=seed), _room_for_backup_gpt():
            iso.new(
                interchange_level=3,
                joliet=3,
                rock_ridge="1.09",
                vol_ident=volume_id,
                app_ident_str="REARBUILD",
            )
            for directory in directories:
                iso.add_directory(
                    namer.iso_path(directory, is_dir=True),
                    rr_name=directory.name,
                    joliet_path=str(directory),
                )
            for path in sorted(real, key=lambda p: p.parts):
                fp, length = _open(stack, real[path])
                iso.add_fp(
                    fp,
                    length,
                    namer.iso_path(path, is_dir=False),
                    rr_name=path.name,
                    joliet_path=str(path),
                    file_mode=_FILE_MODE,
                )
            if boot is not None:
                _add_boot(iso, namer, boot, seed)
            with _replacing(out, _PRIVATE_MODE if private else _PUBLIC_MODE) as target:
                if progress is None:
                    iso.write_fp(target)
                else:
                    iso.write_fp(target, progress_cb=lambda done, total, _opaque: progress(done, total))
    except PyCdlibException as exc:
        raise InternalError(f"pycdlib refused the ISO layout: {exc}") from exc
    finally:
        iso.close()
    return IsoImage(path=out, size=out.stat().st_size, sha256=sha256_file(out), volume_id=volume_id)


def _add_boot(iso: pycdlib.PyCdlib, namer: _Namer, boot: IsoBoot, seed: str) -> None:
    catalog = _real_path(boot.catalog)
    catalog_iso = namer.iso_path(catalog, is_dir=False)
    if boot.bios is not None:
        iso.add_eltorito(
            namer.iso_path(_real_path(boot.bios), is_dir=False),
            bootcatfile=catalog_iso,
            rr_bootcatname=catalog.name,
            joliet_bootcatfile=str(catalog),
            boot_load_size=ISOLINUX_LOAD_SECTORS,
            boot_info_table=True,
        )
    if boot.efi is not None:
        iso.add_eltorito(
            namer.iso_path(_real_path(boot.efi), is_dir=False),
            bootcatfile=catalog_iso,
            rr_bootcatname=catalog.name,
            joliet_bootcatfile=str(catalog),
            efi=True,
        )
    if boot.hybrid:
        # pycdlib checks isolinux.bin's signature and carries its own isohdpfx MBR; efi=True adds the GPT
        # and the EFI partition over efiboot.img (without it write() fails, vm-testing-notes.md).
        iso.add_isohybrid(efi=boot.efi is not None, mbr_id=derive_u32(seed, "isohybrid-mbr-id"))
