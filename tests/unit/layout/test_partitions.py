"""Partition encodings against the specifications: UEFI/Discoverable Partitions GPT type GUIDs, MBR system ids,
the kernel's MBR PARTUUIDs and disklayout.conf's GPT names."""

from __future__ import annotations

import pytest

from rearbuild.layout.partitions import (
    GptType,
    LabelType,
    MbrType,
    MsdosPartKind,
    PartFlag,
    gpt_attrs,
    gpt_flags,
    gpt_name,
    gpt_name_field,
    msdos_flags,
    msdos_partuuid,
    msdos_signature,
)


def test_gpt_type_guids_in_any_case_give_parteds_flags() -> None:
    # The EFI System Partition (UEFI spec §5.3.3) is "boot, esp" to parted on GPT.
    assert gpt_flags("c12a7328-f81f-11d2-ba4b-00a0c93ec93b", None) == {PartFlag.BOOT, PartFlag.ESP}
    assert gpt_flags("21686148-6449-6E6F-744E-656564454649", "") == {PartFlag.BIOS_GRUB}
    # "Linux filesystem" has no flag; an unknown GUID neither.
    assert gpt_flags("0FC63DAF-8483-4772-8E79-3D69D8477DE4", None) == frozenset()
    assert gpt_flags("00000000-1111-2222-3333-444444444444", None) == frozenset()
    assert GptType.of_guid("e6d6d379-f507-44c2-a23c-238f2a3df928") is GptType.LINUX_LVM


def test_legacy_bios_bootable_attribute_is_the_legacy_boot_flag() -> None:
    # sfdisk dumps attrs as a blank-separated list ("LegacyBIOSBootable GUID:63").
    flags = gpt_flags("0FC63DAF-8483-4772-8E79-3D69D8477DE4", "LegacyBIOSBootable GUID:63")
    assert flags == {PartFlag.LEGACY_BOOT}
    assert gpt_attrs(flags) == "LegacyBIOSBootable"
    assert gpt_attrs(frozenset({PartFlag.BOOT})) is None


@pytest.mark.parametrize(
    ("name", "field"), [("EFI System", "EFI%20System"), ("", "rear-noname"), (None, "rear-noname"), ("root", "root")]
)
def test_gpt_names_in_disklayout_have_no_blanks_and_are_never_empty(name: str | None, field: str) -> None:
    assert gpt_name_field(name) == field
    assert gpt_name(field) == (name or "")


def test_mbr_ids_and_flags() -> None:
    assert MbrType.of_id("0x8E") is MbrType.LVM and MbrType.of_id("8e") is MbrType.LVM
    assert msdos_flags("82", bootable=False) == {PartFlag.SWAP}
    assert msdos_flags("83", bootable=True) == {PartFlag.BOOT}
    assert msdos_flags("07", bootable=False) == frozenset()
    # Recovery writes one id: the first flag in LVM, RAID, SWAP, ESP, PREP, DIAG order; Linux without one.
    assert MbrType.of(MsdosPartKind.PRIMARY, frozenset({PartFlag.SWAP, PartFlag.LVM})).system_id == "8e"
    assert MbrType.of(MsdosPartKind.LOGICAL, frozenset({PartFlag.BOOT})).system_id == "83"
    assert MbrType.of(MsdosPartKind.EXTENDED, frozenset()).system_id == "5"


@pytest.mark.parametrize(
    ("system_id", "number", "kind"),
    [("5", 3, MsdosPartKind.EXTENDED), ("f", 2, MsdosPartKind.EXTENDED), ("85", 4, MsdosPartKind.EXTENDED),
     ("83", 4, MsdosPartKind.PRIMARY), ("83", 5, MsdosPartKind.LOGICAL)],
)  # fmt: skip
def test_msdos_partition_kinds(system_id: str, number: int, kind: MsdosPartKind) -> None:
    assert MsdosPartKind.of(system_id, number) is kind


def test_msdos_partuuid_is_the_disk_signature_and_the_number() -> None:
    # block/partitions/msdos.c: "%08x-%02x".
    assert msdos_partuuid("0x2f80f2d5", 5) == "2f80f2d5-05"
    assert msdos_partuuid("0x1", 12) == "00000001-0c"
    assert msdos_signature([None, "2f80f2d5-05"]) == "0x2f80f2d5"
    assert msdos_signature([None, "no-partuuid"]) is None


def test_which_label_types_sfdisk_writes() -> None:
    assert [t for t in LabelType if t.sfdisk_label] == [LabelType.MSDOS, LabelType.GPT, LabelType.GPT_SYNC_MBR]
    assert LabelType.GPT_SYNC_MBR.sfdisk_label == "gpt" and LabelType.MSDOS.sfdisk_label == "dos"
