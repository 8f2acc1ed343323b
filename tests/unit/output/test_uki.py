"""Assembling a unified kernel image on systemd's real EFI stub (systemd-boot-efi, installed by ci/packages.txt):
the section table, alignment, checksum, reproducibility and the refusals. Kernel and initrd are stand-in bytes here;
tests/integration/output/test_uki_tools.py checks real ones with objdump and sbverify, tests/vm boots them."""

from __future__ import annotations

import struct
from pathlib import Path

import pefile
import pytest

from rearbuild.errors import UserError
from rearbuild.output.secureboot import CERTIFICATE_TABLE
from rearbuild.output.uki import (
    CHECKSUM_OFFSET,
    STUB_PATH,
    UkiSection,
    assemble_uki,
    build_uki,
    check_layout,
    find_stub,
    os_release,
    pe_checksum,
    stub_version,
    uki_sections,
)

KERNEL = bytes(range(256)) * 40 + b"kernel-end"  # not a multiple of any alignment
INITRD = b"\x07" * 100_001
CMDLINE = "console=ttyS0,115200 rd.debug"


@pytest.fixture(scope="module")
def stub() -> bytes:
    assert STUB_PATH.is_file(), f"apt-get install systemd-boot-efi ({STUB_PATH} missing)"
    return STUB_PATH.read_bytes()


def _sections() -> list[UkiSection]:
    return uki_sections(kernel=KERNEL, initrd=INITRD, cmdline=CMDLINE, osrel=os_release("host1", "0.1.0"))


def _names(pe: pefile.PE) -> list[str]:
    return [s.Name.rstrip(b"\0").decode() for s in pe.sections]


def test_sections_follow_the_stub_aligned_with_their_contents(stub: bytes) -> None:
    original = pefile.PE(data=stub, fast_load=True)
    image = assemble_uki(stub, _sections())
    pe = pefile.PE(data=image, fast_load=True)
    assert pe.get_warnings() == []
    assert _names(pe) == [*_names(original), ".osrel", ".cmdline", ".initrd", ".linux"]
    assert pe.FILE_HEADER.NumberOfSections == len(pe.sections)
    stub_end_va = max(s.VirtualAddress + s.Misc_VirtualSize for s in original.sections)
    stub_end_raw = max(s.PointerToRawData + s.SizeOfRawData for s in original.sections)
    align_va, align_raw = pe.OPTIONAL_HEADER.SectionAlignment, pe.OPTIONAL_HEADER.FileAlignment
    added = pe.sections[len(original.sections) :]
    previous_va, previous_raw = stub_end_va, stub_end_raw
    for section, expected in zip(added, [_sections()[i].data for i in range(4)], strict=True):
        assert section.VirtualAddress % align_va == 0 and section.PointerToRawData % align_raw == 0
        assert section.VirtualAddress >= previous_va and section.PointerToRawData >= previous_raw
        assert section.Misc_VirtualSize == len(expected)
        assert section.SizeOfRawData % align_raw == 0 and section.SizeOfRawData >= len(expected)
        assert section.get_data()[: len(expected)] == expected
        previous_va = section.VirtualAddress + section.Misc_VirtualSize
        previous_raw = section.PointerToRawData + section.SizeOfRawData
    assert pe.OPTIONAL_HEADER.SizeOfImage >= previous_va and pe.OPTIONAL_HEADER.SizeOfImage % align_va == 0
    assert len(image) == previous_raw  # nothing after the last section (the stub's COFF symbols are gone)
    assert pe.FILE_HEADER.NumberOfSymbols == 0 and pe.FILE_HEADER.PointerToSymbolTable == 0
    # the stub's own sections are untouched
    for old, new in zip(original.sections, pe.sections, strict=False):
        assert old.get_data() == new.get_data() and old.VirtualAddress == new.VirtualAddress
    assert pe.sections[-1].Characteristics & 0x20  # .linux is code (IMAGE_SCN_CNT_CODE), as ukify makes it


def test_the_checksum_is_the_one_pefile_computes(stub: bytes) -> None:
    image = assemble_uki(stub, _sections())
    pe = pefile.PE(data=image, fast_load=True)
    assert pe.OPTIONAL_HEADER.CheckSum != 0
    assert pe.OPTIONAL_HEADER.CheckSum == pe.generate_checksum()
    at = pe.OPTIONAL_HEADER.get_file_offset() + CHECKSUM_OFFSET
    assert struct.unpack_from("<I", image, at)[0] == pe.OPTIONAL_HEADER.CheckSum
    odd = image + b"\x01"  # an odd length is padded with a zero byte
    assert pe_checksum(odd, at) == pefile.PE(data=odd, fast_load=True).generate_checksum()


def test_two_builds_are_byte_identical(stub: bytes, tmp_path: Path) -> None:
    kernel, initrd = tmp_path / "vmlinuz", tmp_path / "initrd"
    kernel.write_bytes(KERNEL)
    initrd.write_bytes(INITRD)
    common = {"kernel": kernel, "initrd": initrd, "cmdline": CMDLINE, "osrel": os_release("h", "1")}
    images = [build_uki(tmp_path / f"{n}.efi", stub=STUB_PATH, uname="6.1", **common) for n in ("one", "two")]
    assert images[0].sha256 == images[1].sha256
    assert (tmp_path / "one.efi").read_bytes() == (tmp_path / "two.efi").read_bytes()
    pe = pefile.PE(str(tmp_path / "one.efi"), fast_load=True)
    assert pe.FILE_HEADER.TimeDateStamp == pefile.PE(data=stub, fast_load=True).FILE_HEADER.TimeDateStamp
    assert (tmp_path / "one.efi").stat().st_mode & 0o777 == 0o644


def test_uname_goes_in_only_for_a_stub_that_reads_it(stub: bytes, tmp_path: Path) -> None:
    assert stub_version(stub) is not None  # Debian 12's stub announces systemd-stub 252
    assert stub_version(b"xx #### LoaderInfo: systemd-stub 255.4-1 ####") == 255
    assert stub_version(b"no marker") is None
    kernel = tmp_path / "k"
    kernel.write_bytes(KERNEL)
    image = build_uki(tmp_path / "u.efi", stub=STUB_PATH, kernel=kernel, initrd=kernel, cmdline="x",
                      osrel=b"ID=x\n", uname="6.1.0-test")  # fmt: skip
    names = _names(pefile.PE(str(image.path), fast_load=True))
    version = stub_version(stub)
    assert version is not None
    assert (".uname" in names) == (version >= 253)


def test_splash_is_a_section_when_given(stub: bytes) -> None:
    sections = uki_sections(kernel=KERNEL, initrd=INITRD, cmdline="x", osrel=b"ID=x\n", splash=b"BM-splash")
    pe = pefile.PE(data=assemble_uki(stub, sections), fast_load=True)
    assert ".splash" in _names(pe)


def test_a_signed_stub_is_refused(stub: bytes) -> None:
    pe = pefile.PE(data=stub, fast_load=True)
    entry = pe.OPTIONAL_HEADER.DATA_DIRECTORY[CERTIFICATE_TABLE]
    entry.VirtualAddress, entry.Size = len(stub), 8  # where sbsign puts the certificate table
    signed = bytes(pe.write()) + bytes(8)
    with pytest.raises(UserError, match="already signed") as caught:
        assemble_uki(signed, _sections(), stub_name="stub.efi")
    assert "stub.efi" in str(caught.value) and caught.value.hint and "unsigned" in caught.value.hint


def test_bad_sections_and_stubs_are_refused(stub: bytes) -> None:
    with pytest.raises(UserError, match="longer than 8 bytes"):
        assemble_uki(stub, [UkiSection(".toolongname", b"x")])
    with pytest.raises(UserError, match=r"already has a \.sbat section"):
        assemble_uki(stub, [UkiSection(".sbat", b"x")])
    with pytest.raises(UserError, match="no room in its headers"):
        assemble_uki(stub, [UkiSection(f".s{i}", b"x") for i in range(20)])
    with pytest.raises(UserError, match="not a PE/COFF EFI binary"):
        assemble_uki(b"MZ" + bytes(100), _sections())


def test_check_layout_finds_overlapping_sections(stub: bytes) -> None:
    image = assemble_uki(stub, _sections())
    stub_sections = pefile.PE(data=stub, fast_load=True).FILE_HEADER.NumberOfSections
    check_layout(image, skip_alignment=stub_sections)
    pe = pefile.PE(data=image, fast_load=True)
    pe.sections[-1].VirtualAddress = pe.sections[-2].VirtualAddress  # .linux over .initrd
    with pytest.raises(UserError, match="overlap in memory"):
        check_layout(bytes(pe.write()), skip_alignment=stub_sections)


def test_a_missing_stub_names_the_package(tmp_path: Path) -> None:
    with pytest.raises(UserError) as caught:
        find_stub(str(tmp_path / "linuxx64.efi.stub"))
    assert "EFI stub" in caught.value.message and "systemd-boot-efi" in (caught.value.hint or "")
    assert find_stub("") == STUB_PATH
