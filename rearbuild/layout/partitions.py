"""Partition encodings, each in one place: the layout's partition table types and flags (parted's words, as
disklayout.conf has them) and what the partition tables themselves store for them.

- GPT partition type GUIDs <-> parted's flags (`GptType`), the GPT attribute LegacyBIOSBootable <-> the flag
  legacy_boot, and the GPT partition name as disklayout.conf writes it (no blanks, never empty);
- MBR system ids <-> parted's flags and the extended partition (`MbrType`), the partition number at which
  logical partitions begin, and the kernel's PARTUUID of an MBR partition, made from the disk signature.

Capture reads these from sfdisk's dump; the recovery writes them back in sfdisk scripts (rearbuild.recover.sfdisk).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

# The first logical partition is number 5 on an msdos disk (sfdisk(8)): 1-4 are the MBR's four slots.
FIRST_LOGICAL = 5
# GPT attribute bit 2, "LegacyBIOSBootable" (UEFI spec §5.3.3 table 5-8), is parted's legacy_boot; this is
# sfdisk's name for it in dumps and scripts (sfdisk(8) "attrs").
LEGACY_BOOT_ATTR = "LegacyBIOSBootable"
# GPT names cannot hold blanks in disklayout.conf (no quoting, study §2.1): a blank is written %20, and an
# empty name gets ReaR's placeholder so that the field is not empty.
NONAME = "rear-noname"
_BLANK = " "
_BLANK_ESCAPE = "%20"
# The kernel's PARTUUID of an MBR partition is "<signature %08x>-<number %02x>" (block/partitions/msdos.c).
_MSDOS_SIGNATURE_DIGITS = 8


class LabelType(enum.Enum):
    """A disk's partition table type as `parted -s DEV print` names it ("Partition Table:")."""

    MSDOS = "msdos"
    GPT = "gpt"
    # ReaR's own name for a GPT with a hybrid MBR (gptsync), layout/save 200_partition_layout.sh.
    GPT_SYNC_MBR = "gpt_sync_mbr"
    DASD = "dasd"
    # parted's name for a whole-device file system without a partition table.
    LOOP = "loop"
    # parted prints "unknown" for a disk it finds no label on (e.g. an empty disk or a whole-disk PV).
    UNKNOWN = "unknown"
    AIX = "aix"
    AMIGA = "amiga"
    ATARI = "atari"
    BSD = "bsd"
    DVH = "dvh"
    MAC = "mac"
    PC98 = "pc98"
    SUN = "sun"

    @property
    def has_partition_table(self) -> bool:
        return self not in (LabelType.LOOP, LabelType.UNKNOWN)

    @property
    def is_gpt(self) -> bool:
        return self in (LabelType.GPT, LabelType.GPT_SYNC_MBR)

    @property
    def sfdisk_label(self) -> str | None:
        """sfdisk's `label:` for a table it can write (sfdisk(8) "Header lines"), None for the others."""
        if self.is_gpt:
            return "gpt"
        return "dos" if self is LabelType.MSDOS else None


class PartFlag(enum.Enum):
    """Partition flags as parted names them (parted(8) `set`; ReaR writes what parted prints)."""

    BOOT = "boot"
    ROOT = "root"
    SWAP = "swap"
    HIDDEN = "hidden"
    RAID = "raid"
    LVM = "lvm"
    LBA = "lba"
    PALO = "palo"
    LEGACY_BOOT = "legacy_boot"
    BIOS_GRUB = "bios_grub"
    PREP = "prep"
    ESP = "esp"
    MSFTDATA = "msftdata"
    MSFTRES = "msftres"
    IRST = "irst"
    DIAG = "diag"
    HP_SERVICE = "hp-service"
    ATVRECV = "atvrecv"
    CHROMEOS_KERNEL = "chromeos_kernel"
    BLS_BOOT = "bls_boot"
    LINUX_HOME = "linux-home"
    NO_AUTOMOUNT = "no_automount"

    @classmethod
    def parse_list(cls, text: str) -> frozenset[PartFlag]:
        """Parse ReaR's comma list (`none` for no flag). Raises ValueError naming an unknown flag."""
        if text == "none":
            return frozenset()
        flags: set[PartFlag] = set()
        for word in text.split(","):
            try:
                flags.add(cls(word))
            except ValueError:
                raise ValueError(f"unknown partition flag {word!r}") from None
        return frozenset(flags)

    @classmethod
    def format_list(cls, flags: frozenset[PartFlag]) -> str:
        """The comma list in declaration order, so that the text does not depend on set order."""
        return ",".join(f.value for f in cls if f in flags) or "none"


class MsdosPartKind(enum.Enum):
    """The `type|name` field of a part record on an msdos disk."""

    PRIMARY = "primary"
    EXTENDED = "extended"
    LOGICAL = "logical"

    @classmethod
    def of(cls, system_id: str, number: int) -> MsdosPartKind:
        """The kind of msdos partition `number` whose MBR system id is `system_id`."""
        mbr = MbrType.of_id(system_id)
        if mbr is not None and mbr.is_extended:
            return cls.EXTENDED
        return cls.LOGICAL if number >= FIRST_LOGICAL else cls.PRIMARY


class GptType(enum.Enum):
    """GPT partition type GUIDs and the parted flags they stand for.

    GUIDs from the UEFI spec §5.3.3 (the ESP), the Discoverable Partitions Specification (the Linux types) and
    util-linux libfdisk/src/gpt.c; each member is named after sfdisk's name for the type (sfdisk -T).
    """

    # "BIOS boot": GRUB's core.img on a GPT disk that a BIOS boots.
    BIOS_BOOT = ("21686148-6449-6E6F-744E-656564454649", frozenset({PartFlag.BIOS_GRUB}))
    # "EFI System". parted reports the ESP as "boot, esp" on GPT (parted(8): boot is an alias of esp there).
    EFI_SYSTEM = ("C12A7328-F81F-11D2-BA4B-00A0C93EC93B", frozenset({PartFlag.BOOT, PartFlag.ESP}))
    # "Linux LVM"
    LINUX_LVM = ("E6D6D379-F507-44C2-A23C-238F2A3DF928", frozenset({PartFlag.LVM}))
    # "Linux RAID"
    LINUX_RAID = ("A19D880F-05FC-4D3B-A006-743F0F84911E", frozenset({PartFlag.RAID}))
    # "Linux swap"
    LINUX_SWAP = ("0657FD6D-A4AB-43C4-84E5-0933C84B4F4F", frozenset({PartFlag.SWAP}))
    # "Microsoft basic data"
    MICROSOFT_BASIC_DATA = ("EBD0A0A2-B9E5-4433-87C0-68B6B72699C7", frozenset({PartFlag.MSFTDATA}))
    # "Microsoft reserved"
    MICROSOFT_RESERVED = ("E3C9E316-0B5C-4DB8-817D-F92DF00215AE", frozenset({PartFlag.MSFTRES}))
    # "Windows recovery environment", parted's diag on GPT.
    WINDOWS_RECOVERY = ("DE94BBA4-06D1-4D40-A16A-BFD50179D6AC", frozenset({PartFlag.DIAG}))
    # "PowerPC PReP boot"
    PREP_BOOT = ("9E1A2D38-C612-4316-AA26-8B49521E5A8B", frozenset({PartFlag.PREP}))
    # "Linux home"
    LINUX_HOME = ("933AC7E1-2EB4-4F13-B844-0E14E2AEF915", frozenset({PartFlag.LINUX_HOME}))
    # "Linux filesystem": no flag; sfdisk's default type on GPT, and ours for a part record without gpt_type.
    LINUX_FILESYSTEM = ("0FC63DAF-8483-4772-8E79-3D69D8477DE4", frozenset[PartFlag]())

    def __init__(self, guid: str, flags: frozenset[PartFlag]) -> None:
        self.guid = guid
        self.flags = flags

    @classmethod
    def of_guid(cls, guid: str) -> GptType | None:
        """The type of a GUID in any letter case; None for a type no flag stands for that we do not name."""
        wanted = guid.upper()
        return next((t for t in cls if t.guid == wanted), None)

    @classmethod
    def of_flags(cls, flags: frozenset[PartFlag]) -> GptType:
        """The type a partition with these parted flags gets when the layout names no type GUID: ReaR's own
        disklayout.conf has only the flags column (ReaR recreates with `parted set N FLAG on`, which sets the
        type GUID the same way). The first member with a flag in common wins, in declaration order: a
        bios_grub partition must be "BIOS boot" or GRUB cannot embed itself; on GPT parted's `boot` is the ESP
        (parted(8) "boot ... on GPT an alias for esp")."""
        return next((t for t in cls if t.flags & flags), cls.LINUX_FILESYSTEM)


def gpt_flags(type_guid: str, attrs: str | None) -> frozenset[PartFlag]:
    """parted's flags of a GPT partition from its type GUID and sfdisk's attrs (e.g. "LegacyBIOSBootable")."""
    gpt_type = GptType.of_guid(type_guid)
    flags = set(gpt_type.flags if gpt_type is not None else ())
    if attrs and LEGACY_BOOT_ATTR in attrs:
        flags.add(PartFlag.LEGACY_BOOT)
    return frozenset(flags)


def gpt_attrs(flags: frozenset[PartFlag]) -> str | None:
    """sfdisk's attrs for parted's flags, None for none."""
    return LEGACY_BOOT_ATTR if PartFlag.LEGACY_BOOT in flags else None


def gpt_name_field(name: str | None) -> str:
    """The GPT partition name as disklayout.conf writes it: blanks as %20, an empty name as rear-noname."""
    return (name or NONAME).replace(_BLANK, _BLANK_ESCAPE)


def gpt_name(field: str) -> str:
    """The partition name as GPT stores it: %20 back to blanks, ReaR's rear-noname back to empty."""
    if field == NONAME:
        return ""
    return field.replace(_BLANK_ESCAPE, _BLANK)


class MbrType(enum.Enum):
    """MBR system ids (sfdisk -T on a dos label, as sfdisk dumps them: hex without 0x) for the flags ReaR records
    (the layout has no type field on msdos) and for extended partitions."""

    # Declared in the order a partition with several of these flags takes its id (the first wins).
    # "Linux LVM"
    LVM = ("8e", PartFlag.LVM)
    # "Linux raid autodetect"
    RAID = ("fd", PartFlag.RAID)
    # "Linux swap / Solaris"
    SWAP = ("82", PartFlag.SWAP)
    # "EFI (FAT-12/16/32)"
    ESP = ("ef", PartFlag.ESP)
    # "PPC PReP Boot"
    PREP = ("41", PartFlag.PREP)
    # "Dell Utility", parted's diag on msdos.
    DIAG = ("de", PartFlag.DIAG)
    # "Linux": no flag, the id of every other primary or logical partition.
    LINUX = ("83", None)
    # "Extended" (DOS), the id recovery writes for an extended partition.
    EXTENDED = ("5", None)
    # "W95 Ext'd (LBA)" and "Linux extended": extended partitions too.
    EXTENDED_LBA = ("f", None)
    LINUX_EXTENDED = ("85", None)

    def __init__(self, system_id: str, flag: PartFlag | None) -> None:
        self.system_id = system_id
        self.flag = flag

    @property
    def is_extended(self) -> bool:
        return self in (MbrType.EXTENDED, MbrType.EXTENDED_LBA, MbrType.LINUX_EXTENDED)

    @classmethod
    def of_id(cls, system_id: str) -> MbrType | None:
        """The type of an id as sfdisk dumps it ("8e", "0x8E"); None for one we do not name."""
        wanted = system_id.lower().removeprefix("0x")
        return next((t for t in cls if t.system_id == wanted), None)

    @classmethod
    def of(cls, kind: MsdosPartKind | None, flags: frozenset[PartFlag]) -> MbrType:
        """The id recovery writes for a partition of this kind with these flags."""
        if kind is MsdosPartKind.EXTENDED:
            return cls.EXTENDED
        return next((t for t in cls if t.flag is not None and t.flag in flags), cls.LINUX)


def msdos_flags(system_id: str, bootable: bool) -> frozenset[PartFlag]:
    """parted's flags of an msdos partition from its system id and the MBR's boot indicator."""
    mbr = MbrType.of_id(system_id)
    flags = {mbr.flag} if mbr is not None and mbr.flag is not None else set()
    if bootable:
        flags.add(PartFlag.BOOT)
    return frozenset(flags)


def msdos_partuuid(signature: str, number: int) -> str:
    """The PARTUUID the kernel gives partition `number` of an MBR with this disk signature (hex, e.g. 0x1c2d3e4f).

    The MBR has no partition UUIDs; the kernel makes PARTUUID "%08x-%02x" of the disk signature and the
    partition number (block/partitions/msdos.c), which fstab and boot entries may name.
    """
    return f"{int(signature, 16):08x}-{number:02x}"


def msdos_signature(partuuids: Iterable[str | None]) -> str | None:
    """The MBR disk signature (0x...), from the PARTUUIDs `msdos_partuuid` derived from it."""
    for partuuid in partuuids:
        if partuuid and "-" in partuuid:
            head = partuuid.split("-", 1)[0]
            if len(head) == _MSDOS_SIGNATURE_DIGITS:
                return f"0x{head.lower()}"
    return None
