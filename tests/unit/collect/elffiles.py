"""Tiny ELF files built byte by byte, for the tests of the ELF reader and of the ld.so emulation."""

from __future__ import annotations

import json
import struct

from rearbuild.collect.elf import (
    DLOPEN_NOTE_TYPE,
    DT_NEEDED,
    DT_RPATH,
    DT_RUNPATH,
    DT_SONAME,
    DT_STRSZ,
    DT_STRTAB,
    EHDR32_FMT,
    EHDR64_FMT,
    PHDR32_FMT,
    PHDR64_FMT,
    PT_DYNAMIC,
    PT_INTERP,
    PT_LOAD,
    PT_NOTE,
    ByteOrder,
    ElfClass,
)

EM_X86_64 = 62
INTERP = "/lib64/ld-linux-x86-64.so.2"
_BASE = 0x400000  # virtual address of file offset 0: DT_STRTAB must be translated, not used as an offset


def make_elf(
    *,
    needed: tuple[str, ...] = (),
    soname: str | None = None,
    rpath: str | None = None,
    runpath: str | None = None,
    interp: str | None = None,
    dlopen: list[dict[str, object]] | None = None,
    elf_class: ElfClass = ElfClass.ELF64,
    order: ByteOrder = ByteOrder.LSB,
    machine: int = EM_X86_64,
) -> bytes:
    """A minimal ELF shared object: header, PT_LOAD over the whole file, PT_DYNAMIC, optional PT_INTERP
    and PT_NOTE (.note.dlopen), then the string table, the dynamic section and the note."""
    p = order.prefix
    ehdr = struct.Struct(p + (EHDR64_FMT if elf_class is ElfClass.ELF64 else EHDR32_FMT))
    phdr = struct.Struct(p + (PHDR64_FMT if elf_class is ElfClass.ELF64 else PHDR32_FMT))
    dyn = struct.Struct(p + ("qQ" if elf_class is ElfClass.ELF64 else "iI"))
    strtab = bytearray(b"\0")

    def string(text: str) -> int:
        strtab.extend(text.encode() + b"\0")
        return len(strtab) - len(text) - 1

    tags = [(DT_NEEDED, string(n)) for n in needed]
    for tag, value in ((DT_SONAME, soname), (DT_RPATH, rpath), (DT_RUNPATH, runpath)):
        if value is not None:
            tags.append((tag, string(value)))
    note = b""
    if dlopen is not None:
        desc = json.dumps(dlopen).encode() + b"\0"
        desc += b"\0" * (-len(desc) % 4)
        note = struct.pack(p + "III", 4, len(desc), DLOPEN_NOTE_TYPE) + b"FDO\0" + desc
    interp_bytes = interp.encode() + b"\0" if interp else b""
    nph = 2 + bool(interp) + bool(note)
    str_off = ehdr.size + nph * phdr.size
    interp_off = str_off + len(strtab)
    dyn_off = (interp_off + len(interp_bytes) + 7) & ~7
    tags += [(DT_STRTAB, _BASE + str_off), (DT_STRSZ, len(strtab)), (0, 0)]
    dynamic = b"".join(dyn.pack(t, v) for t, v in tags)
    note_off = dyn_off + len(dynamic)
    total = note_off + len(note)

    def ph(kind: int, off: int, size: int, align: int) -> bytes:
        if elf_class is ElfClass.ELF64:
            return phdr.pack(kind, 4, off, _BASE + off, _BASE + off, size, size, align)
        return phdr.pack(kind, off, _BASE + off, _BASE + off, size, size, 4, align)

    ident = b"\x7fELF" + bytes([elf_class.value, order.value, 1, 0]) + b"\0" * 8
    head = ehdr.pack(ident, 3, machine, 1, 0, ehdr.size, 0, 0, ehdr.size, phdr.size, nph, 0, 0, 0)
    phs = ph(PT_LOAD, 0, total, 0x1000) + ph(PT_DYNAMIC, dyn_off, len(dynamic), 8)
    if interp:
        phs += ph(PT_INTERP, interp_off, len(interp_bytes), 1)
    if note:
        phs += ph(PT_NOTE, note_off, len(note), 4)
    body = head + phs + bytes(strtab) + interp_bytes
    body += b"\0" * (dyn_off - len(body))
    return body + dynamic + note
