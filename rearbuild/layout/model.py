"""The disk layout as typed, immutable records: one class per disklayout.conf keyword.

The records carry values already normalised (sizes in bytes where ReaR's units changed between versions,
flags as enum sets, key=value options as typed fields). Reading and writing the text form is
`rearbuild.layout.disklayout`, each keyword's line as its record specification (`rearbuild.layout.spec`)
says; the dependency graph is `rearbuild.layout.deps`.

A disk with a file system directly on it and no partition table (e.g. this project's own build host, whose
root file system sits on /dev/vda) has no record of its own in ReaR. We describe it the way parted does:
`disk /dev/vda <size> loop` (parted's label type "loop" means "the whole device, no partition table",
parted(8) `mklabel`), with no `part` records and the `fs` record naming the disk itself.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal
from typing import ClassVar

from rearbuild.layout.partitions import LabelType, MsdosPartKind, PartFlag


class Keyword(enum.Enum):
    """Every keyword ReaR writes into disklayout.conf (study §2.2).

    It is also the `<type>` column of ReaR's disktodo.conf: a component's type is the keyword of its record.
    What a keyword means (its line, group comments, component and edges) is its record specification in
    `rearbuild.layout.spec.registry`; a record knows its own keyword (`record.keyword`).
    """

    DISK = "disk"
    PART = "part"
    RAIDARRAY = "raidarray"
    RAIDDISK = "raiddisk"
    MULTIPATH = "multipath"
    LVMDEV = "lvmdev"
    LVMGRP = "lvmgrp"
    LVMVOL = "lvmvol"
    CRYPT = "crypt"
    DRBD = "drbd"
    FS = "fs"
    BTRFSDEFAULTSUBVOL = "btrfsdefaultsubvol"
    BTRFSNORMALSUBVOL = "btrfsnormalsubvol"
    BTRFSMOUNTEDSUBVOL = "btrfsmountedsubvol"
    BTRFSSNAPSHOTSUBVOL = "btrfssnapshotsubvol"
    BTRFSNOCOPYONWRITE = "btrfsnocopyonwrite"
    SWAP = "swap"
    SMARTARRAY = "smartarray"
    LOGICALDRIVE = "logicaldrive"
    OPALDISK = "opaldisk"
    DASD_CHANNEL = "dasd_channel"

    @classmethod
    def lookup(cls, word: str) -> Keyword | None:
        """The keyword spelled `word`, also accepting `raid`, raidarray's name before ReaR PR #2800."""
        if word == "raid":
            return cls.RAIDARRAY
        try:
            return cls(word)
        except ValueError:
            return None


class FsType(enum.Enum):
    """File system types ReaR can recreate (study §2.2 `fs`)."""

    EXT2 = "ext2"
    EXT3 = "ext3"
    EXT4 = "ext4"
    XFS = "xfs"
    BTRFS = "btrfs"
    VFAT = "vfat"
    REISERFS = "reiserfs"

    @property
    def is_ext(self) -> bool:
        return self in (FsType.EXT2, FsType.EXT3, FsType.EXT4)


class LuksType(enum.Enum):
    LUKS1 = "luks1"
    LUKS2 = "luks2"
    # cryptsetup's other --type values; ReaR only writes luks1/luks2 but a hand-edited file may say these.
    PLAIN = "plain"
    LOOPAES = "loopaes"
    TCRYPT = "tcrypt"
    BITLK = "bitlk"


Option = tuple[str, str]
"""An extra key=value (or key:value) option this model has no field for, kept in file order."""


@dataclass(frozen=True)
class Disk:
    """`disk <devname> <size(bytes)> <partition label type>` [s390: 4 DASD fields] [our key=value extras].

    gpt_guid / first_usable_lba are our extension: ReaR 2.7 recreates GPTs with new GUIDs, which breaks
    boot entries and fstab lines that name PARTUUIDs. ReaR reads the line with `read ... junk`, so the
    extra key=value words are ignored by it.
    """

    keyword: ClassVar[Keyword] = Keyword.DISK

    device: str
    size: int
    label: LabelType
    # s390 DASD only: <logical block size> <DASD layout> <DASD type> <size(cylinders)>.
    dasd_fields: tuple[str, ...] = ()
    gpt_guid: str | None = None
    first_usable_lba: int | None = None
    extra: tuple[Option, ...] = ()


@dataclass(frozen=True)
class RaidDisk:
    """`raiddisk <devname> <size(bytes)> <partition label type>`: an md device that carries partitions."""

    keyword: ClassVar[Keyword] = Keyword.RAIDDISK

    device: str
    size: int
    label: LabelType


@dataclass(frozen=True)
class Part:
    """`part <disk> <size> <start> <type|name> <flags> <partition> [<partuuid>|no-partuuid]` [extras].

    size may be negative: ReaR's migration mode writes that for a partition that no longer fits.
    partuuid is None when the field is missing (ReaR before 2025-10) or says `no-partuuid`.
    gpt_type (the partition type GUID) is our key=value extension, ignored by ReaR.
    """

    keyword: ClassVar[Keyword] = Keyword.PART

    disk: str
    size: int
    start: int
    name: str
    flags: frozenset[PartFlag]
    device: str
    partuuid: str | None = None
    gpt_type: str | None = None
    extra: tuple[Option, ...] = ()

    @property
    def msdos_kind(self) -> MsdosPartKind | None:
        try:
            return MsdosPartKind(self.name)
        except ValueError:
            return None


@dataclass(frozen=True)
class RaidArray:
    """`raidarray /dev/mdX level= raid-devices= devices=a,b [name=] [metadata=] [uuid=] [layout=] [chunk=]
    [spare-devices=] [size=]`; read also from the `raid` keyword used before ReaR PR #2800."""

    keyword: ClassVar[Keyword] = Keyword.RAIDARRAY

    device: str
    level: str
    raid_devices: int
    devices: tuple[str, ...]
    name: str | None = None
    metadata: str | None = None
    uuid: str | None = None
    layout: str | None = None
    chunk: str | None = None
    spare_devices: int | None = None
    size: str | None = None
    extra: tuple[Option, ...] = ()


@dataclass(frozen=True)
class Multipath:
    """`multipath <devname> <size(bytes)> <partition label type> <slave1,slave2>`."""

    keyword: ClassVar[Keyword] = Keyword.MULTIPATH

    device: str
    size: int
    label: LabelType
    slaves: tuple[str, ...]


@dataclass(frozen=True)
class LvmDev:
    """`lvmdev <vg> <device> [<uuid>] [<size>]`: an LVM physical volume.

    size is kept as ReaR wrote it: `pvdisplay -c` field 3, which is 512-byte sectors in every ReaR version
    we have seen (Example A: 251244544 sectors = the 128639303680-byte /dev/sda2). Nothing recreates from it.
    """

    keyword: ClassVar[Keyword] = Keyword.LVMDEV

    vg: str
    device: str
    uuid: str | None = None
    size: int | None = None

    @property
    def vg_name(self) -> str:
        return self.vg.removeprefix("/dev/")


@dataclass(frozen=True)
class LvmGrp:
    """`lvmgrp <vg> <extentsize> [<size(extents)>] [<size>]`.

    Despite "bytes" in ReaR's header both extent size and size are KiB (`vgdisplay -c` fields 13 and 12;
    recreation runs `vgcreate --physicalextentsize ${extentsize}k`).
    """

    keyword: ClassVar[Keyword] = Keyword.LVMGRP

    vg: str
    extent_size_kib: int
    extents: int | None = None
    size_kib: int | None = None

    @property
    def vg_name(self) -> str:
        return self.vg.removeprefix("/dev/")


@dataclass(frozen=True)
class LvmVol:
    """`lvmvol <vg> <name> <size>b <layout> [key:value ...]` (current format).

    Old files (ReaR ≤ 1.x, study Example A/C) wrote `lvmvol <vg> <name> <extents> <size>` with the size in
    512-byte sectors (`lvdisplay -c` field 7: 2560 extents of 4 MiB = 20971520 sectors). The reader
    converts that to bytes and records `legacy_extents`; the layout of such a volume is linear.
    """

    keyword: ClassVar[Keyword] = Keyword.LVMVOL

    vg: str
    name: str
    size: int
    layout: tuple[str, ...] = ("linear",)
    thinpool: str | None = None
    poolmetadatasize: int | None = None
    chunksize: int | None = None
    stripesize: int | None = None
    stripes: int | None = None
    mirrors: int | None = None
    extra: tuple[Option, ...] = ()
    # Informational: the current format does not carry it, so it is not part of the value.
    legacy_extents: int | None = field(default=None, compare=False)

    @property
    def vg_name(self) -> str:
        return self.vg.removeprefix("/dev/")

    @property
    def mapper_device(self) -> str:
        """/dev/mapper/<vg>-<lv> with dashes doubled, as device-mapper names LVs (dmsetup(8))."""
        return f"/dev/mapper/{self.vg_name.replace('-', '--')}-{self.name.replace('-', '--')}"

    @property
    def is_thin_pool(self) -> bool:
        return "thin" in self.layout and "pool" in self.layout

    @property
    def is_thin_volume(self) -> bool:
        return "thin" in self.layout and "sparse" in self.layout


@dataclass(frozen=True)
class Crypt:
    """`crypt /dev/mapper/<name> <device> [type=] [cipher=] [key_size=] [hash=] [uuid=] [pbkdf=]
    [keyfile=] [password=]`. Old files have no type= (LUKS1 was the only kind)."""

    keyword: ClassVar[Keyword] = Keyword.CRYPT

    device: str
    source: str
    type: LuksType | None = None
    cipher: str | None = None
    key_size: int | None = None
    hash: str | None = None
    uuid: str | None = None
    pbkdf: str | None = None
    keyfile: str | None = None
    password: str | None = None
    extra: tuple[Option, ...] = ()


@dataclass(frozen=True)
class Drbd:
    """`drbd /dev/drbd<nr> <resource name> <device>`."""

    keyword: ClassVar[Keyword] = Keyword.DRBD

    device: str
    resource: str
    source: str


@dataclass(frozen=True)
class ReservedBlocks:
    """ext reserved_blocks=: a percentage (`5%`, current ReaR) or a block count (old files)."""

    amount: Decimal
    percent: bool

    def __str__(self) -> str:
        return f"{self.amount}%" if self.percent else str(self.amount)


@dataclass(frozen=True)
class Fs:
    """`fs <device> <mountpoint> <fstype> [uuid=] [label=] [<attributes>]`.

    label is "" for `label=` (no label) and None when the option is missing. The per-type attributes
    (ext: blocksize, reserved_blocks, max_mounts, check_interval, bytes_per_inode, default_mount_options;
    btrfs: nodesize, sectorsize, features) are None when not written.
    """

    keyword: ClassVar[Keyword] = Keyword.FS

    device: str
    mountpoint: str
    fstype: FsType
    uuid: str | None = None
    label: str | None = None
    blocksize: int | None = None
    reserved_blocks: ReservedBlocks | None = None
    max_mounts: int | None = None
    check_interval_days: int | None = None
    bytes_per_inode: int | None = None
    default_mount_options: str | None = None
    nodesize: int | None = None
    sectorsize: int | None = None
    features: str | None = None
    options: str | None = None
    extra: tuple[Option, ...] = ()


@dataclass(frozen=True)
class BtrfsSubvol:
    """btrfsdefaultsubvol / btrfsnormalsubvol / btrfssnapshotsubvol `<device> <mountpoint> <id> <path>`."""

    kind: BtrfsSubvolKind
    device: str
    mountpoint: str
    subvol_id: int
    path: str

    @property
    def keyword(self) -> Keyword:
        return self.kind.value


class BtrfsSubvolKind(enum.Enum):
    DEFAULT = Keyword.BTRFSDEFAULTSUBVOL
    NORMAL = Keyword.BTRFSNORMALSUBVOL
    SNAPSHOT = Keyword.BTRFSSNAPSHOTSUBVOL


@dataclass(frozen=True)
class BtrfsMountedSubvol:
    """`btrfsmountedsubvol <device> <subvolume_mountpoint> <mount_options> <btrfs_subvolume_path>`."""

    keyword: ClassVar[Keyword] = Keyword.BTRFSMOUNTEDSUBVOL

    device: str
    mountpoint: str
    options: str
    path: str


@dataclass(frozen=True)
class BtrfsNoCopyOnWrite:
    """`btrfsnocopyonwrite <btrfs_subvolume_path>`."""

    keyword: ClassVar[Keyword] = Keyword.BTRFSNOCOPYONWRITE

    path: str


@dataclass(frozen=True)
class Swap:
    """`swap <device> uuid=<uuid> label=<label>`; label "" is `label=`, None is a missing option."""

    keyword: ClassVar[Keyword] = Keyword.SWAP

    device: str
    uuid: str | None = None
    label: str | None = None
    extra: tuple[Option, ...] = ()


@dataclass(frozen=True)
class Verbatim:
    """A record kept word for word: smartarray, logicaldrive, opaldisk, dasd_channel and unknown keywords.

    `keyword` is None for a keyword no ReaR version we know writes; see `disklayout.unsupported`.
    """

    word: str
    fields: tuple[str, ...]

    @property
    def keyword(self) -> Keyword | None:
        return Keyword.lookup(self.word)


Record = (
    Disk
    | RaidDisk
    | Part
    | RaidArray
    | Multipath
    | LvmDev
    | LvmGrp
    | LvmVol
    | Crypt
    | Drbd
    | Fs
    | BtrfsSubvol
    | BtrfsMountedSubvol
    | BtrfsNoCopyOnWrite
    | Swap
    | Verbatim
)


@dataclass(frozen=True)
class Entry:
    """One record of the file and whether it is excluded (written as a `#keyword ...` comment)."""

    record: Record
    excluded: bool = False
    # Where it was read from (1-based), for messages; not part of the value.
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Note:
    """A free comment line between records (e.g. ReaR's multi-segment LV warning), kept in place."""

    text: str


Item = Entry | Note


@dataclass(frozen=True)
class Layout:
    """A disk layout: header comment lines, then records (and free comments) in file order."""

    items: tuple[Item, ...] = ()
    header: tuple[str, ...] = ()
    # The file it came from, for messages (e.g. "disklayout.conf").
    source: str = field(default="disklayout.conf", compare=False)

    @property
    def entries(self) -> tuple[Entry, ...]:
        return tuple(i for i in self.items if isinstance(i, Entry))

    @property
    def active(self) -> tuple[Record, ...]:
        """The records that are not excluded, in file order."""
        return tuple(e.record for e in self.entries if not e.excluded)

    @classmethod
    def of(cls, records: tuple[Record, ...] | list[Record], header: tuple[str, ...] = ()) -> Layout:
        return cls(items=tuple(Entry(r) for r in records), header=header)
