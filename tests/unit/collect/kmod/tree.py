"""A synthetic modules tree for the kmod tests: fake module files (minimal ELF with .modinfo) and indexes."""

from __future__ import annotations

import gzip
import lzma
import struct
from pathlib import Path

from rearbuild.collect.kmod.index import ModuleIndex
from rearbuild.collect.kmod.names import module_name

KVER = "6.1.0-test"


def fake_module(modinfo: list[str]) -> bytes:
    """A minimal ELF64 relocatable file with a .shstrtab and a .modinfo section."""
    info = b"".join(entry.encode() + b"\0" for entry in modinfo)
    names = b"\0.shstrtab\0.modinfo\0"
    info_offset = 64
    names_offset = info_offset + len(info)
    shoff = (names_offset + len(names) + 7) & ~7
    # e_ident, e_type=ET_REL, e_machine=EM_X86_64, e_version, e_entry, e_phoff, e_shoff, e_flags,
    # e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx
    header = struct.pack("<4sBBBB8xHHIQQQIHHHHHH", b"\x7fELF", 2, 1, 1, 0, 1, 62, 1, 0, 0, shoff, 0, 64, 0, 0, 64, 3, 1)
    body = header + info + names
    body += b"\0" * (shoff - len(body))
    section = struct.Struct("<IIQQQQIIQQ")
    body += b"\0" * section.size
    body += section.pack(1, 3, 0, 0, names_offset, len(names), 0, 0, 1, 0)  # .shstrtab, SHT_STRTAB
    body += section.pack(11, 1, 0, 0, info_offset, len(info), 0, 0, 1, 0)  # .modinfo, SHT_PROGBITS
    return body


def make_tree(
    root: Path,
    modules: dict[str, tuple[list[str], list[str]]],
    *,
    softdep: str = "",
    builtin: tuple[str, ...] = (),
    alias: str = "",
) -> Path:
    """root/lib/modules/KVER with modules {relpath: (dependency relpaths, modinfo entries)}."""
    moddir = root / "lib/modules" / KVER
    lines = []
    for relpath, (deps, info) in modules.items():
        path = moddir / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        data = fake_module([f"name={module_name(relpath)}", *info])
        if relpath.endswith(".xz"):
            data = lzma.compress(data, check=lzma.CHECK_CRC32)
        elif relpath.endswith(".gz"):
            data = gzip.compress(data)
        path.write_bytes(data)
        lines.append(f"{relpath}: {' '.join(deps)}".rstrip(" ") + "\n")
    (moddir / "modules.dep").write_text("".join(lines))
    (moddir / "modules.order").write_text("".join(f"{p}\n" for p in modules))
    (moddir / "modules.builtin").write_text("".join(f"kernel/{b}.ko\n" for b in builtin))
    (moddir / "modules.alias").write_text(alias)
    if softdep is not None:
        (moddir / "modules.softdep").write_text(softdep)
    return moddir


def files(index: ModuleIndex, names: list[str] | tuple[str, ...]) -> list[str]:
    return [index.paths[n].rsplit("/", 1)[-1] for n in names if n in index.paths]
