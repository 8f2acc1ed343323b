"""ELF parsing (rearbuild.collect.elf), on tiny ELF files built byte by byte (make_elf) and on /bin/true."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from rearbuild.collect.elf import (
    DT_NEEDED,
    ByteOrder,
    DlopenPriority,
    ElfClass,
    ElfError,
    parse_elf,
    parse_elf_bytes,
)
from tests.unit.collect.elffiles import EM_X86_64, INTERP, make_elf

# -- parsing ---------------------------------------------------------------------------------------


def test_parse_system_true() -> None:
    info = parse_elf("/bin/true")
    assert info is not None
    assert info.elf_class is ElfClass.ELF64 and info.machine == EM_X86_64
    assert info.interpreter == INTERP
    assert "libc.so.6" in info.needed


@pytest.mark.parametrize("elf_class", list(ElfClass))
@pytest.mark.parametrize("order", list(ByteOrder))
def test_parse_synthetic_dynamic_section(elf_class: ElfClass, order: ByteOrder) -> None:
    data = make_elf(
        needed=("liba.so.1", "libb.so.2"),
        soname="libme.so.3",
        rpath="/r",
        runpath="$ORIGIN/../lib",
        interp=INTERP,
        elf_class=elf_class,
        order=order,
    )
    info = parse_elf_bytes(data)
    assert info is not None
    assert (info.elf_class, info.byte_order) == (elf_class, order)
    assert info.needed == ("liba.so.1", "libb.so.2")
    assert info.soname == "libme.so.3"
    assert info.interpreter == INTERP
    assert (info.rpath, info.runpath) == ("/r", "$ORIGIN/../lib")
    assert info.effective_rpath is None  # RUNPATH present: ld.so ignores RPATH


def test_parse_dlopen_note() -> None:
    notes: list[dict[str, object]] = [
        {"feature": "zstd", "description": "compression", "priority": "required", "soname": ["libzstd.so.1"]},
        {"feature": "idn", "priority": "suggested", "soname": ["libidn2.so.0", "libidn.so.12"]},
    ]
    info = parse_elf_bytes(make_elf(dlopen=notes))
    assert info is not None
    assert [(n.feature, n.priority, n.sonames) for n in info.dlopen] == [
        ("zstd", DlopenPriority.REQUIRED, ("libzstd.so.1",)),
        ("idn", DlopenPriority.SUGGESTED, ("libidn2.so.0", "libidn.so.12")),
    ]


def test_non_elf_is_none(tmp_path: Path) -> None:
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\necho hi\n")
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert parse_elf(script) is None
    assert parse_elf(empty) is None
    assert parse_elf_bytes(b"\x7fEL") is None


@pytest.mark.parametrize("cut", [10, 40, 100, 300])
def test_truncated_elf_is_a_clear_error(cut: int) -> None:
    data = make_elf(needed=("liba.so.1",), interp=INTERP)
    with pytest.raises(ElfError, match=r"truncated|corrupt"):
        parse_elf_bytes(data[:cut], "cut.so")


def test_corrupt_fields_are_clear_errors() -> None:
    data = bytearray(make_elf(needed=("liba.so.1",)))
    bad_class = bytearray(data)
    bad_class[4] = 9
    with pytest.raises(ElfError, match=r"bad\.so: corrupt"):
        parse_elf_bytes(bytes(bad_class), "bad.so")
    # A DT_NEEDED string index far outside the string table.
    info = parse_elf_bytes(bytes(data))
    assert info is not None
    needle = struct.pack("<qQ", DT_NEEDED, 1)
    at = next(i for i in range(0, len(data), 8) if data[i : i + 16] == needle)  # Elf64_Dyn is 8-aligned
    data[at + 8 : at + 16] = struct.pack("<Q", 10**6)
    with pytest.raises(ElfError, match="outside the string table"):
        parse_elf_bytes(bytes(data), "bad.so")


def test_missing_file_is_a_user_error(tmp_path: Path) -> None:
    from rearbuild.errors import UserError

    with pytest.raises(UserError, match="cannot read"):
        parse_elf(tmp_path / "nope")
