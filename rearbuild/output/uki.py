"""Unified kernel images (OUTPUT=UKI, ReaR's EFI_STUB=y): kernel + initrd + command line + os-release (+ splash)
as sections of systemd's EFI stub, one PE binary a UEFI firmware starts directly.

The layout follows the UKI specification (uapi-group.org/specifications/specs/unified_kernel_image) and
ukify's invariants (peer-techniques.md §B2): new sections go after the stub's last section, virtual addresses
aligned to the stub's SectionAlignment and file offsets to its FileAlignment; pefile's warnings are errors; a
stub that is already signed is refused (appending sections would break its signature, and sbsign must sign the
whole image); the trailing COFF symbol table of older stubs is dropped (it would sit between the stub's
sections and ours). The result depends only on its inputs: no clock, no randomness, so two builds are
byte-identical. Section and header facts cite the Microsoft PE Format specification ("PE/COFF").
"""

from __future__ import annotations

import itertools
import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rearbuild.checksum import sha256_file
from rearbuild.errors import UserError
from rearbuild.output.secureboot import carries_signature

# systemd-boot-efi (Debian, Ubuntu), systemd-boot-unsigned (Fedora), systemd (Arch) install the stub here.
STUB_PATH = Path("/usr/lib/systemd/boot/efi/linuxx64.efi.stub")
STUB_PACKAGE = "systemd-boot-efi"
STUB_HINT = f"apt-get install {STUB_PACKAGE} (Fedora: systemd-boot-unsigned), or set UKI_STUB"
PEFILE_HINT = "pefile is a dependency of rearbuild: reinstall rearbuild, or apt-get install python3-pefile"

# PE/COFF §4 "Section Table (Section Headers)": a section header is 40 bytes; its Name field is 8 bytes,
# NUL-padded (longer names need a string table, which an image file does not have and systemd's stub ignores).
SECTION_HEADER_BYTES = 40
MAX_SECTION_NAME = 8
# PE/COFF §4.1 "Section Flags".
IMAGE_SCN_CNT_CODE = 0x00000020
IMAGE_SCN_CNT_INITIALIZED_DATA = 0x00000040
IMAGE_SCN_MEM_READ = 0x40000000
# PE/COFF §3.4.2 "Optional Header Windows-Specific Fields": CheckSum is at offset 64 of the optional header
# (PE32 and PE32+ alike), 4 bytes.
CHECKSUM_OFFSET = 64
# The stub version that reads .uname (systemd v253 NEWS: "systemd-stub ... .uname section").
UNAME_SINCE = 253
# systemd-stub announces itself in its .sdmagic section: "#### LoaderInfo: systemd-stub 252.39-1~deb12u2 ####".
_STUB_VERSION = re.compile(rb"LoaderInfo: systemd-stub (\d+)")


@dataclass(frozen=True)
class UkiSection:
    name: str  # e.g. ".linux"; at most 8 bytes
    data: bytes


@dataclass(frozen=True)
class UkiImage:
    path: Path
    size: int
    sha256: str
    signed: bool


def _pefile() -> Any:
    """pefile, imported when a UKI is built (only OUTPUT=UKI needs it; prep asks for it by name)."""
    try:
        import pefile  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:
        raise UserError("OUTPUT=UKI needs the Python module pefile", hint=PEFILE_HINT) from exc
    return pefile


def find_stub(configured: str = "") -> Path:
    """UKI_STUB, or systemd's stub where the distribution installs it; UserError names the package."""
    stub = Path(configured) if configured.strip() else STUB_PATH
    if not stub.is_file():
        raise UserError(f"systemd's EFI stub {stub} not found: a UKI is built on it", hint=STUB_HINT)
    return stub


def check_prerequisites(configured_stub: str = "") -> Path:
    """What prep checks before anything is built: pefile importable, the stub present. Returns the stub."""
    _pefile()
    return find_stub(configured_stub)


def stub_version(stub: bytes) -> int | None:
    """The systemd major version of a systemd-stub, from its .sdmagic section (None: not systemd's)."""
    found = _STUB_VERSION.search(stub)
    return int(found.group(1)) if found else None


def os_release(hostname: str, version: str) -> bytes:
    """The .osrel section: os-release(5) of the rescue system; boot menus (systemd-boot) show PRETTY_NAME."""
    return (
        'NAME="Relax-and-Recover"\n'
        "ID=rearbuild\n"
        f'PRETTY_NAME="Relax-and-Recover rescue system of {hostname}"\n'
        f"VERSION_ID={version}\n"
    ).encode()


def uki_sections(
    *,
    kernel: bytes,
    initrd: bytes,
    cmdline: str,
    osrel: bytes,
    uname: str | None = None,
    splash: bytes | None = None,
) -> list[UkiSection]:
    """The sections in ukify's order (.osrel .cmdline .uname .splash .initrd .linux: the kernel last)."""
    sections = [UkiSection(".osrel", osrel), UkiSection(".cmdline", cmdline.encode())]
    if uname is not None:
        sections.append(UkiSection(".uname", uname.encode()))
    if splash is not None:
        sections.append(UkiSection(".splash", splash))
    sections += [UkiSection(".initrd", initrd), UkiSection(".linux", kernel)]
    return sections


def _round_up(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment


def pe_checksum(image: bytes | bytearray, checksum_at: int) -> int:
    """The PE image checksum (PE/COFF §3.4.2 CheckSum; the algorithm of IMAGEHLP's CheckSumMappedFile): the
    16-bit words of the file, the CheckSum field counted as zero, added with end-around carry, plus the length."""
    data = bytes(image[:checksum_at]) + b"\0\0\0\0" + bytes(image[checksum_at + 4 :])
    if len(data) % 2:
        data += b"\0"
    total = sum(memoryview(data).cast("H"))  # little-endian words on the x86/arm hosts rearbuild builds on
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return (total + len(image)) & 0xFFFFFFFF


def _parse(data: bytes, what: str) -> Any:
    pefile = _pefile()
    try:
        pe = pefile.PE(data=data, fast_load=True)
    except pefile.PEFormatError as exc:
        raise UserError(f"{what} is not a PE/COFF EFI binary: {exc}", hint=STUB_HINT) from exc
    warnings = pe.get_warnings()
    if warnings:  # ukify: pefile's warnings are errors, a half-understood stub makes a broken image
        raise UserError(f"{what}: pefile reports {warnings[0]}", hint=STUB_HINT)
    return pe


def assemble_uki(stub: bytes, sections: Sequence[UkiSection], *, stub_name: str = "the EFI stub") -> bytes:
    """The UKI's bytes: `stub` with `sections` appended (pure: no clock, no files)."""
    pefile = _pefile()
    pe = _parse(stub, stub_name)
    if carries_signature(pe):
        raise UserError(
            f"{stub_name} is already signed: sections added to it would invalidate its signature",
            hint="use the unsigned stub (systemd-boot-efi's linuxx64.efi.stub) and sign the UKI (UKI_SIGN_KEY)",
        )
    header = pe.OPTIONAL_HEADER
    file_align, section_align = header.FileAlignment, header.SectionAlignment
    existing = {s.Name.rstrip(b"\0").decode("ascii", "replace") for s in pe.sections}
    for section in sections:
        if len(section.name.encode()) > MAX_SECTION_NAME:
            raise UserError(f"UKI section name {section.name!r} is longer than {MAX_SECTION_NAME} bytes")
        if section.name in existing:
            raise UserError(f"{stub_name} already has a {section.name} section: it is not a bare systemd stub")
    # Only the file offsets of the stub's sections must be aligned (we append after them); Debian's stub 252 has
    # .sdmagic at a virtual address that is not a multiple of its SectionAlignment, which firmware accepts.
    for s in pe.sections:
        if s.PointerToRawData % file_align:
            raise UserError(f"{stub_name}: section {s.Name!r} is not aligned as its header says", hint=STUB_HINT)
    stub_sections = len(pe.sections)
    # The stub ends with its last section's data; a COFF symbol table after it (PE/COFF §5.4: deprecated for
    # images) is dropped, so our sections follow the stub's directly.
    end = max(s.PointerToRawData + s.SizeOfRawData for s in pe.sections)
    pe.FILE_HEADER.PointerToSymbolTable = 0
    pe.FILE_HEADER.NumberOfSymbols = 0
    data = bytearray(pe.__data__[:end])
    last = max(pe.sections, key=lambda s: s.VirtualAddress)
    # After the stub's image: its SizeOfImage (which Debian's stub rounds beyond its last section) or its last
    # section's memory end, whichever is further.
    next_va = _round_up(max(last.VirtualAddress + last.Misc_VirtualSize, header.SizeOfImage), section_align)
    header_at = pe.sections[-1].get_file_offset() + SECTION_HEADER_BYTES
    for section in sections:
        if header_at + SECTION_HEADER_BYTES > header.SizeOfHeaders:
            raise UserError(f"{stub_name} has no room in its headers for the {section.name} section header")
        if any(pe.__data__[header_at : header_at + SECTION_HEADER_BYTES]):
            raise UserError(f"{stub_name}: the space after its section table is not free", hint=STUB_HINT)
        new = pefile.SectionStructure(pe.__IMAGE_SECTION_HEADER_format__, pe=pe)
        new.__unpack__(bytes(SECTION_HEADER_BYTES))
        new.set_file_offset(header_at)
        new.Name = section.name.encode().ljust(MAX_SECTION_NAME, b"\0")
        new.Misc = new.Misc_PhysicalAddress = new.Misc_VirtualSize = len(section.data)
        new.VirtualAddress = next_va
        new.PointerToRawData = _round_up(len(data), file_align)
        new.SizeOfRawData = _round_up(len(section.data), file_align)
        # ukify: .linux is code (the stub hands it over to), the rest initialized read-only data.
        kind = IMAGE_SCN_CNT_CODE if section.name == ".linux" else IMAGE_SCN_CNT_INITIALIZED_DATA
        new.Characteristics = IMAGE_SCN_MEM_READ | kind
        data += bytes(new.PointerToRawData - len(data)) + section.data
        data += bytes(new.SizeOfRawData - len(section.data))
        pe.__structures__.append(new)
        pe.sections.append(new)
        pe.FILE_HEADER.NumberOfSections += 1
        header.SizeOfInitializedData += new.SizeOfRawData
        next_va = _round_up(new.VirtualAddress + len(section.data), section_align)
        header_at += SECTION_HEADER_BYTES
    # PE/COFF §3.4.2: SizeOfImage covers every section, a multiple of SectionAlignment.
    header.SizeOfImage = next_va
    header.CheckSum = 0
    pe.__data__ = bytes(data)
    image = bytearray(pe.write())
    checksum_at = header.get_file_offset() + CHECKSUM_OFFSET
    struct.pack_into("<I", image, checksum_at, pe_checksum(image, checksum_at))
    check_layout(bytes(image), what="the assembled UKI", skip_alignment=stub_sections)
    return bytes(image)


def check_layout(image: bytes, *, what: str = "the UKI", skip_alignment: int = 0) -> None:
    """Every section inside the file, aligned (but the first `skip_alignment`: the stub's own), overlapping no
    other in memory or in the file, within SizeOfImage. A bug in the assembly shows here, not at boot."""
    pe = _parse(image, what)
    header = pe.OPTIONAL_HEADER
    spans_va: list[tuple[int, int, bytes]] = []
    spans_raw: list[tuple[int, int, bytes]] = []
    for index, s in enumerate(pe.sections):
        misaligned = s.VirtualAddress % header.SectionAlignment or s.PointerToRawData % header.FileAlignment
        if index >= skip_alignment and misaligned:
            raise UserError(f"{what}: section {s.Name!r} is misaligned")
        if s.PointerToRawData + s.SizeOfRawData > len(image):
            raise UserError(f"{what}: section {s.Name!r} extends past the end of the file")
        spans_va.append((s.VirtualAddress, s.VirtualAddress + max(s.Misc_VirtualSize, 1), s.Name))
        spans_raw.append((s.PointerToRawData, s.PointerToRawData + s.SizeOfRawData, s.Name))
    for spans, space in ((spans_va, "memory"), (spans_raw, "the file")):
        ordered = sorted(spans)
        for (_, end, name), (start, _, other) in itertools.pairwise(ordered):
            if start < end:
                raise UserError(f"{what}: sections {name!r} and {other!r} overlap in {space}")
    if header.SizeOfImage < max(end for _, end, _ in spans_va) or header.SizeOfImage % header.SectionAlignment:
        raise UserError(f"{what}: SizeOfImage {header.SizeOfImage:#x} does not cover its sections")


def build_uki(
    out: Path,
    *,
    stub: Path,
    kernel: Path,
    initrd: Path,
    cmdline: str,
    osrel: bytes,
    uname: str | None = None,
    splash: Path | None = None,
) -> UkiImage:
    """Write the (unsigned) UKI at `out`. `uname` goes in only when the stub reads it (systemd >= 253)."""
    stub_bytes = stub.read_bytes()
    version = stub_version(stub_bytes)
    sections = uki_sections(
        kernel=_read(kernel, "the kernel"),
        initrd=_read(initrd, "the initrd"),
        cmdline=cmdline,
        osrel=osrel,
        uname=uname if version is not None and version >= UNAME_SINCE else None,
        splash=_read(splash, "the splash image (UKI_SPLASH)") if splash is not None else None,
    )
    image = assemble_uki(stub_bytes, sections, stub_name=str(stub))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_bytes(image)
    tmp.chmod(0o644)
    tmp.replace(out)
    return UkiImage(path=out, size=len(image), sha256=sha256_file(out), signed=False)


def signed_copy(image: UkiImage, sign: Callable[[Path, Path], None]) -> UkiImage:
    """Replace the unsigned UKI by its signed form: sign(unsigned, signed) writes a new file (sbsign)."""
    signed = image.path.with_name(f".{image.path.name}.signed")
    try:
        sign(image.path, signed)
        signed.chmod(0o644)
        signed.replace(image.path)
    finally:
        signed.unlink(missing_ok=True)
    size = image.path.stat().st_size
    return UkiImage(path=image.path, size=size, sha256=sha256_file(image.path), signed=True)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {what} {path}: {exc.strerror}") from exc
