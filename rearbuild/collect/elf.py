"""Reading the facts the dynamic loader needs from an ELF file, without running anything.

Only what ld.so itself looks at is read: the ELF header (class, byte order, machine, OS ABI), the program
headers (PT_INTERP, PT_DYNAMIC, PT_LOAD, PT_NOTE) and the dynamic section (DT_NEEDED, DT_SONAME, DT_RPATH,
DT_RUNPATH, DT_FLAGS_1). Program headers rather than section headers, because the loader never reads
sections and stripped (sstrip) binaries have none. The one exception is the `.note.dlopen` metadata, which
is also looked for in SHT_NOTE sections when a linker left it out of every PT_NOTE segment.

References: the System V gABI ("Object Files" chapter, https://refspecs.linuxfoundation.org/elf/gabi4+/),
elf(5), glibc elf/elf.h, and systemd's ELF dlopen metadata spec
(https://uapi-group.org/specifications/specs/elf_dlopen_metadata/).
"""

from __future__ import annotations

import enum
import json
import mmap
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from rearbuild.errors import UserError

# e_ident bytes 0-3 (gABI "ELF Identification").
ELF_MAGIC = b"\x7fELF"

# e_ident indexes (gABI): EI_CLASS, EI_DATA, EI_VERSION, EI_OSABI, EI_ABIVERSION.
EI_CLASS = 4
EI_DATA = 5
EI_OSABI = 7
EI_ABIVERSION = 8

# Program header types (gABI "Program Header").
PT_LOAD = 1
PT_DYNAMIC = 2
PT_INTERP = 3
PT_NOTE = 4

# Section header type of a note section (gABI "Sections"), and e_phnum's escape value: when a file has
# 0xffff or more program headers the real count is in section header 0's sh_info (elf(5), PN_XNUM).
SHT_NOTE = 7
PN_XNUM = 0xFFFF

# Dynamic tags (gABI "Dynamic Section"; DT_RUNPATH is from gABI 4.1, DT_FLAGS_1 a GNU extension in elf.h).
DT_NULL = 0
DT_NEEDED = 1
DT_STRTAB = 5
DT_STRSZ = 10
DT_SONAME = 14
DT_RPATH = 15
DT_RUNPATH = 29
DT_FLAGS_1 = 0x6FFFFFFB
# DT_FLAGS_1 bit: do not search the default directories or the ld.so cache (glibc elf.h, ld(1) -z nodeflib).
DF_1_NODEFLIB = 0x00000800

# systemd's dlopen metadata note: owner "FDO", type 0x407c0c0a (ELF dlopen metadata spec).
DLOPEN_NOTE_OWNER = b"FDO"
DLOPEN_NOTE_TYPE = 0x407C0C0A

# The longest string read from a string table: ld.so has no limit, but a name longer than PATH_MAX (4096,
# limits.h) cannot be opened anyway, so a longer one means a corrupt table.
_MAX_STRING = 4096


class ElfError(UserError):
    """A file starts like ELF but is truncated or corrupt."""


class ElfClass(enum.Enum):
    """EI_CLASS: the word size, which decides the layout of every structure below."""

    ELF32 = 1
    ELF64 = 2

    @property
    def bits(self) -> int:
        return 32 if self is ElfClass.ELF32 else 64

    @property
    def ehdr(self) -> str:
        return EHDR32_FMT if self is ElfClass.ELF32 else EHDR64_FMT

    @property
    def phdr(self) -> str:
        return PHDR32_FMT if self is ElfClass.ELF32 else PHDR64_FMT

    @property
    def shdr(self) -> str:
        return SHDR32_FMT if self is ElfClass.ELF32 else SHDR64_FMT

    @property
    def dyn(self) -> str:
        return DYN32_FMT if self is ElfClass.ELF32 else DYN64_FMT


class ByteOrder(enum.Enum):
    """EI_DATA: byte order of every multi-byte field after e_ident."""

    LSB = 1
    MSB = 2

    @property
    def prefix(self) -> str:
        return "<" if self is ByteOrder.LSB else ">"


# The structures, one per class, always read with an explicit byte-order prefix (the formats below carry
# none: _Reader.layout() adds it). Every struct is parsed with unpack_from at a file offset.

# Elf64_Ehdr (64 bytes):
# Offset 0x00: e_ident (16 bytes)     Offset 0x10: e_type (2)       Offset 0x12: e_machine (2)
# Offset 0x14: e_version (4)          Offset 0x18: e_entry (8)      Offset 0x20: e_phoff (8)
# Offset 0x28: e_shoff (8)            Offset 0x30: e_flags (4)      Offset 0x34: e_ehsize (2)
# Offset 0x36: e_phentsize (2)        Offset 0x38: e_phnum (2)      Offset 0x3a: e_shentsize (2)
# Offset 0x3c: e_shnum (2)            Offset 0x3e: e_shstrndx (2)
EHDR64_FMT = "16sHHIQQQIHHHHHH"
# Elf32_Ehdr (52 bytes): as above with 4-byte e_entry, e_phoff, e_shoff:
# Offset 0x00: e_ident (16)  0x10: e_type  0x12: e_machine  0x14: e_version  0x18: e_entry (4)
# Offset 0x1c: e_phoff (4)   0x20: e_shoff (4)  0x24: e_flags  0x28: e_ehsize  0x2a: e_phentsize
# Offset 0x2c: e_phnum       0x2e: e_shentsize  0x30: e_shnum  0x32: e_shstrndx
EHDR32_FMT = "16sHHIIIIIHHHHHH"

# Elf64_Phdr (56 bytes):
# Offset 0x00: p_type (4)   0x04: p_flags (4)   0x08: p_offset (8)  0x10: p_vaddr (8)
# Offset 0x18: p_paddr (8)  0x20: p_filesz (8)  0x28: p_memsz (8)   0x30: p_align (8)
PHDR64_FMT = "IIQQQQQQ"
# Elf32_Phdr (32 bytes): note that p_flags moves to the end in the 32-bit layout:
# Offset 0x00: p_type  0x04: p_offset  0x08: p_vaddr  0x0c: p_paddr  0x10: p_filesz  0x14: p_memsz
# Offset 0x18: p_flags  0x1c: p_align
PHDR32_FMT = "IIIIIIII"

# Elf64_Shdr (64 bytes):
# Offset 0x00: sh_name (4)  0x04: sh_type (4)  0x08: sh_flags (8)  0x10: sh_addr (8)  0x18: sh_offset (8)
# Offset 0x20: sh_size (8)  0x28: sh_link (4)  0x2c: sh_info (4)  0x30: sh_addralign (8)
# Offset 0x38: sh_entsize (8)
SHDR64_FMT = "IIQQQQIIQQ"
# Elf32_Shdr (40 bytes): the same fields, all 4 bytes wide.
SHDR32_FMT = "IIIIIIIIII"

# Elf64_Dyn (16 bytes): Offset 0x00: d_tag (8, signed)  Offset 0x08: d_val/d_ptr (8)
DYN64_FMT = "qQ"
# Elf32_Dyn (8 bytes):  Offset 0x00: d_tag (4, signed)  Offset 0x04: d_val/d_ptr (4)
DYN32_FMT = "iI"

# Elf_Nhdr (12 bytes, same in both classes):
# Offset 0x00: n_namesz (4)  0x04: n_descsz (4)  0x08: n_type (4); then the name and the descriptor, each
# padded to the note alignment (4, or 8 in segments aligned to 8 such as .note.gnu.property).
NHDR_FMT = "III"


class DlopenPriority(enum.Enum):
    """How badly a program wants a dlopen()ed library (ELF dlopen metadata spec, "priority")."""

    REQUIRED = "required"
    RECOMMENDED = "recommended"
    SUGGESTED = "suggested"

    @property
    def include_in_rescue(self) -> bool:
        """A rescue system carries required and recommended libraries; suggested ones are optional extras."""
        return self is not DlopenPriority.SUGGESTED

    @property
    def missing_is_error(self) -> bool:
        return self is DlopenPriority.REQUIRED


@dataclass(frozen=True)
class DlopenNote:
    """One entry of a `.note.dlopen` JSON array: alternatives for one feature, the first found wins."""

    feature: str
    description: str
    priority: DlopenPriority
    sonames: tuple[str, ...]


@dataclass(frozen=True)
class ElfInfo:
    """What the dynamic loader reads from one ELF file."""

    elf_class: ElfClass
    byte_order: ByteOrder
    machine: int  # e_machine, e.g. 62 = EM_X86_64 (elf.h)
    osabi: int  # e_ident[EI_OSABI]: 0 = System V, 3 = GNU/Linux
    abi_version: int
    elf_type: int  # e_type: 2 = ET_EXEC, 3 = ET_DYN
    interpreter: str | None  # PT_INTERP
    is_dynamic: bool  # has a PT_DYNAMIC segment
    needed: tuple[str, ...]  # DT_NEEDED in file order (ld.so loads them in this order)
    soname: str | None
    rpath: str | None  # raw DT_RPATH (colon-separated, unexpanded)
    runpath: str | None  # raw DT_RUNPATH
    flags_1: int  # DT_FLAGS_1 or 0
    dlopen: tuple[DlopenNote, ...]

    @property
    def effective_rpath(self) -> str | None:
        """DT_RPATH as ld.so uses it: ignored when DT_RUNPATH is present (glibc elf/get-dynamic-info.h)."""
        return None if self.runpath is not None else self.rpath

    @property
    def nodeflib(self) -> bool:
        return bool(self.flags_1 & DF_1_NODEFLIB)

    def compatible_with(self, other: ElfInfo) -> bool:
        """Whether ld.so running `other` would accept this file as a library (glibc elf/dl-load.c
        open_verify): same class, byte order and machine; OS ABI System V or GNU, treated alike."""
        return (
            self.elf_class is other.elf_class
            and self.byte_order is other.byte_order
            and self.machine == other.machine
            and self.osabi in _LINUX_OSABIS
            and other.osabi in _LINUX_OSABIS
        )


# ELFOSABI_SYSV (0) and ELFOSABI_GNU (3): glibc's VALID_ELF_OSABI accepts both (sysdeps/gnu/ldsodefs.h).
_LINUX_OSABIS = frozenset({0, 3})


class _Reader:
    """Bounds-checked structure reads from a buffer, naming the file in every error."""

    def __init__(self, data: bytes | mmap.mmap, name: str, order: ByteOrder, elf_class: ElfClass) -> None:
        self.data = data
        self.name = name
        self.order = order
        self.elf_class = elf_class
        self._structs: dict[str, struct.Struct] = {}

    def layout(self, fmt: str) -> struct.Struct:
        layout = self._structs.get(fmt)
        if layout is None:
            layout = self._structs[fmt] = struct.Struct(self.order.prefix + fmt)
        return layout

    def unpack(self, fmt: str, offset: int, what: str) -> tuple[int, ...]:
        layout = self.layout(fmt)
        if offset < 0 or offset + layout.size > len(self.data):
            raise self.corrupt(f"{what} at offset {offset:#x} lies beyond the end of the file")
        return layout.unpack_from(self.data, offset)

    def string(self, table_offset: int, table_size: int, index: int, what: str) -> str:
        if index >= table_size:
            raise self.corrupt(f"{what} string index {index} is outside the string table ({table_size} bytes)")
        start = table_offset + index
        end_limit = min(table_offset + table_size, start + _MAX_STRING, len(self.data))
        end = self.data.find(b"\0", start, end_limit)
        if end < 0:
            raise self.corrupt(f"{what} string at offset {start:#x} is not NUL-terminated")
        return bytes(self.data[start:end]).decode("utf-8", "surrogateescape")

    def corrupt(self, detail: str) -> ElfError:
        return ElfError(
            f"{self.name}: corrupt or truncated ELF file: {detail}",
            hint="reinstall the package that owns it, or leave it out of the rescue system",
        )


@dataclass(frozen=True)
class _Segment:
    kind: int
    offset: int
    vaddr: int
    filesz: int
    align: int


def parse_elf_bytes(data: bytes | mmap.mmap, name: str = "<bytes>") -> ElfInfo | None:
    """Parse ELF facts from a buffer. None if it is not ELF; ElfError if it is ELF but corrupt."""
    if len(data) < len(ELF_MAGIC) or data[:4] != ELF_MAGIC:
        return None
    if len(data) < 16:
        raise ElfError(f"{name}: truncated ELF file: {len(data)} bytes, shorter than e_ident")
    try:
        elf_class = ElfClass(data[EI_CLASS])
        order = ByteOrder(data[EI_DATA])
    except ValueError as exc:
        raise ElfError(
            f"{name}: corrupt ELF file: e_ident class {data[EI_CLASS]} / data {data[EI_DATA]} is invalid",
            hint="reinstall the package that owns it, or leave it out of the rescue system",
        ) from exc
    rd = _Reader(data, name, order, elf_class)
    (_ident, e_type, e_machine, _ver, _entry, e_phoff, e_shoff, _flags, _ehsize, e_phentsize, e_phnum,
     e_shentsize, e_shnum, _shstrndx) = rd.unpack(elf_class.ehdr, 0, "ELF header")  # fmt: skip
    if e_phnum == PN_XNUM and e_shoff:
        e_phnum = rd.unpack(elf_class.shdr, e_shoff, "section header 0")[7]  # sh_info
    segments = _segments(rd, e_phoff, e_phentsize, e_phnum)

    interpreter = None
    for seg in segments:
        if seg.kind == PT_INTERP:
            if seg.offset + seg.filesz > len(data):
                raise rd.corrupt("PT_INTERP lies beyond the end of the file")
            raw = bytes(data[seg.offset : seg.offset + seg.filesz]).split(b"\0", 1)[0]
            interpreter = raw.decode("utf-8", "surrogateescape")
            break

    dynamic = next((seg for seg in segments if seg.kind == PT_DYNAMIC), None)
    needed: list[str] = []
    soname = rpath = runpath = None
    flags_1 = 0
    if dynamic is not None:
        entries = _dynamic_entries(rd, dynamic)
        strtab_addr = next((val for tag, val in entries if tag == DT_STRTAB), None)
        strsz = next((val for tag, val in entries if tag == DT_STRSZ), 0)
        strings_needed = any(tag in _STRING_TAGS for tag, _ in entries)
        if strings_needed:
            if strtab_addr is None:
                raise rd.corrupt("dynamic section names libraries but has no DT_STRTAB")
            strtab = _vaddr_to_offset(segments, strtab_addr)
            if strtab is None:
                raise rd.corrupt(f"DT_STRTAB address {strtab_addr:#x} is in no PT_LOAD segment")
            for tag, val in entries:
                if tag == DT_NEEDED:
                    needed.append(rd.string(strtab, strsz, val, "DT_NEEDED"))
                elif tag == DT_SONAME:
                    soname = rd.string(strtab, strsz, val, "DT_SONAME")
                elif tag == DT_RPATH:
                    rpath = rd.string(strtab, strsz, val, "DT_RPATH")
                elif tag == DT_RUNPATH:
                    runpath = rd.string(strtab, strsz, val, "DT_RUNPATH")
        flags_1 = next((val for tag, val in entries if tag == DT_FLAGS_1), 0)

    return ElfInfo(
        elf_class=elf_class,
        byte_order=order,
        machine=e_machine,
        osabi=data[EI_OSABI],
        abi_version=data[EI_ABIVERSION],
        elf_type=e_type,
        interpreter=interpreter,
        is_dynamic=dynamic is not None,
        needed=tuple(needed),
        soname=soname,
        rpath=rpath,
        runpath=runpath,
        flags_1=flags_1,
        dlopen=tuple(_dlopen_notes(rd, segments, e_shoff, e_shentsize, e_shnum)),
    )


_STRING_TAGS = frozenset({DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH})


def _segments(rd: _Reader, phoff: int, phentsize: int, phnum: int) -> list[_Segment]:
    layout = rd.layout(rd.elf_class.phdr)
    if phnum == 0:
        return []
    if phentsize != layout.size:
        raise rd.corrupt(f"e_phentsize is {phentsize}, expected {layout.size} for ELF{rd.elf_class.bits}")
    segments = []
    for i in range(phnum):
        fields = rd.unpack(rd.elf_class.phdr, phoff + i * phentsize, f"program header {i}")
        if rd.elf_class is ElfClass.ELF64:
            p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz, _memsz, p_align = fields
        else:
            p_type, p_offset, p_vaddr, _paddr, p_filesz, _memsz, _flags, p_align = fields
        segments.append(_Segment(p_type, p_offset, p_vaddr, p_filesz, p_align))
    return segments


def _dynamic_entries(rd: _Reader, dynamic: _Segment) -> list[tuple[int, int]]:
    layout = rd.layout(rd.elf_class.dyn)
    if dynamic.offset + dynamic.filesz > len(rd.data):
        raise rd.corrupt("PT_DYNAMIC lies beyond the end of the file")
    entries = []
    for offset in range(dynamic.offset, dynamic.offset + dynamic.filesz - layout.size + 1, layout.size):
        tag, val = rd.unpack(rd.elf_class.dyn, offset, "dynamic entry")
        if tag == DT_NULL:
            break
        entries.append((tag, val))
    return entries


def _vaddr_to_offset(segments: list[_Segment], vaddr: int) -> int | None:
    """The file offset of a virtual address: the loader maps PT_LOAD segments, so the address lies in one."""
    for seg in segments:
        if seg.kind == PT_LOAD and seg.vaddr <= vaddr < seg.vaddr + seg.filesz:
            return vaddr - seg.vaddr + seg.offset
    return None


def _notes(rd: _Reader, offset: int, size: int, align: int) -> Iterator[tuple[bytes, int, bytes]]:
    """(owner, type, descriptor) of each note in a PT_NOTE segment or SHT_NOTE section."""
    align = 8 if align == 8 else 4
    end = min(offset + size, len(rd.data))
    pos = offset
    header = rd.layout(NHDR_FMT).size
    while pos + header <= end:
        namesz, descsz, ntype = rd.unpack(NHDR_FMT, pos, "note header")
        name_at = pos + header
        # Alignment is of offsets within the segment (which starts aligned), as glibc's ELF_NOTE_NEXT_OFFSET.
        desc_at = offset + _align(name_at - offset + namesz, align)
        next_at = offset + _align(desc_at - offset + descsz, align)
        if desc_at + descsz > end:
            raise rd.corrupt(f"note at offset {pos:#x} runs past the end of its segment")
        owner = bytes(rd.data[name_at : name_at + namesz]).rstrip(b"\0")
        yield owner, ntype, bytes(rd.data[desc_at : desc_at + descsz])
        pos = next_at


def _align(value: int, align: int) -> int:
    return (value + align - 1) & ~(align - 1)


def _dlopen_notes(
    rd: _Reader, segments: list[_Segment], shoff: int, shentsize: int, shnum: int
) -> Iterator[DlopenNote]:
    regions = {(seg.offset, seg.filesz, seg.align) for seg in segments if seg.kind == PT_NOTE}
    if not any(True for _ in regions) and shoff and shnum and shentsize == rd.layout(rd.elf_class.shdr).size:
        # No PT_NOTE at all (e.g. a relocatable object or an unusual link): fall back to note sections.
        for i in range(shnum):
            fields = rd.unpack(rd.elf_class.shdr, shoff + i * shentsize, f"section header {i}")
            if fields[1] == SHT_NOTE:
                regions.add((fields[4], fields[5], fields[8]))
    for offset, size, align in sorted(regions):
        for owner, ntype, desc in _notes(rd, offset, size, align):
            if owner == DLOPEN_NOTE_OWNER and ntype == DLOPEN_NOTE_TYPE:
                yield from _parse_dlopen_json(rd, desc)


def _parse_dlopen_json(rd: _Reader, desc: bytes) -> Iterator[DlopenNote]:
    text = desc.rstrip(b"\0").decode("utf-8", "replace")
    try:
        entries = json.loads(text)
    except json.JSONDecodeError as exc:
        raise rd.corrupt(f".note.dlopen payload is not JSON ({exc.msg} at character {exc.pos})") from exc
    if not isinstance(entries, list):
        raise rd.corrupt(".note.dlopen payload is not a JSON array")
    for entry in entries:
        if not isinstance(entry, dict):
            raise rd.corrupt(".note.dlopen entry is not a JSON object")
        sonames = entry.get("soname", [])
        if not isinstance(sonames, list) or not all(isinstance(s, str) for s in sonames):
            raise rd.corrupt(f".note.dlopen soname field is not a list of strings: {sonames!r}")
        try:
            priority = DlopenPriority(entry.get("priority", "recommended"))
        except ValueError as exc:
            raise rd.corrupt(f".note.dlopen priority {entry.get('priority')!r} is unknown") from exc
        yield DlopenNote(
            feature=str(entry.get("feature", "")),
            description=str(entry.get("description", "")),
            priority=priority,
            sonames=tuple(sonames),
        )


def parse_elf(path: str | os.PathLike[str]) -> ElfInfo | None:
    """Parse the ELF file at path. None if it is not ELF (script, data, empty); ElfError if corrupt;
    UserError if it cannot be read."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as f:
            head = f.read(len(ELF_MAGIC))
            if head != ELF_MAGIC:
                return None
            size = os.fstat(f.fileno()).st_size
            with mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ) as data:
                return parse_elf_bytes(data, name)
    except OSError as exc:
        raise UserError(
            f"cannot read {name}: {exc.strerror}", hint="check that the file exists and is readable"
        ) from exc


# gABI "Sections": e_shnum 0 means "the count is in sh_size of section 0"; e_shstrndx SHN_XINDEX means "the index
# is in sh_link of section 0" (files with 0xff00 sections or more).
SHN_XINDEX = 0xFFFF


def read_section(data: bytes | mmap.mmap, section: str, name: str = "<bytes>") -> bytes | None:
    """The contents of the named section (b"" when there is none), found through the section headers and
    .shstrtab: what a relocatable file such as a kernel module (.modinfo) keeps its metadata in. None if data is
    not ELF; ElfError if it is ELF but corrupt."""
    if len(data) < len(ELF_MAGIC) or data[:4] != ELF_MAGIC:
        return None
    try:
        elf_class = ElfClass(data[EI_CLASS])
        order = ByteOrder(data[EI_DATA])
    except (ValueError, IndexError) as exc:
        raise ElfError(
            f"{name}: corrupt ELF file: e_ident class or data is invalid",
            hint="reinstall the package that owns it, or leave it out of the rescue system",
        ) from exc
    rd = _Reader(data, name, order, elf_class)
    ehdr = rd.unpack(elf_class.ehdr, 0, "ELF header")
    e_shoff, e_shentsize, e_shnum, e_shstrndx = ehdr[6], ehdr[11], ehdr[12], ehdr[13]
    layout = rd.layout(elf_class.shdr)
    if e_shoff == 0 or e_shentsize < layout.size:
        raise rd.corrupt("no section headers")

    def header(index: int) -> tuple[int, ...]:
        return rd.unpack(elf_class.shdr, e_shoff + index * e_shentsize, f"section header {index}")

    if e_shnum == 0:
        e_shnum = header(0)[5]  # sh_size
    if e_shstrndx == SHN_XINDEX:
        e_shstrndx = header(0)[6]  # sh_link
    strtab = header(e_shstrndx)
    wanted = section.encode()
    for index in range(e_shnum):
        fields = header(index)
        sh_name, sh_offset, sh_size = fields[0], fields[4], fields[5]
        if sh_name < strtab[5] and rd.string(strtab[4], strtab[5], sh_name, "section name").encode() == wanted:
            if sh_offset + sh_size > len(data):
                raise rd.corrupt(f"{section} lies beyond the end of the file")
            return bytes(data[sh_offset : sh_offset + sh_size])
    return b""
