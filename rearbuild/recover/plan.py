"""The recovery plan: the ordered, exact commands that recreate a disk layout (ReaR's diskrestore.sh as data).

`build_plan(layout)` walks the layout's components in ReaR's creation order (rearbuild.layout.deps) and turns
each into steps: wipe and partition a disk (one sfdisk script per disk), create MD arrays, LUKS mappings,
LVM PVs/VGs/LVs, file systems, btrfs subvolumes and swap, and mount the file systems under the target root.
The steps are then ordered by kind (partitions, then MD, LUKS, PVs, VGs, LVs, mkfs, mounts) as far as their
dependencies allow, so a nested stack (LUKS on an LV, LVM on MD on LUKS) still comes out right.

Every identity ReaR 2.7 loses is kept: GPT disk GUID and PARTUUIDs, MBR signature, exact partition starts and
sizes, MD uuid/name/metadata, LUKS uuid and parameters, PV uuids, extent sizes, exact LV sizes, file system
UUIDs, labels and attributes. No secret ever enters a plan: a LUKS key comes from a key file, or from a
passphrase the running script reads from the terminal.

The plan is rendered as a bash script and run by rearbuild.recover.planscript.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from rearbuild.errors import UserError
from rearbuild.layout.deps import Component, build_graph, creation_order
from rearbuild.layout.model import (
    BtrfsMountedSubvol,
    BtrfsSubvol,
    BtrfsSubvolKind,
    Crypt,
    Disk,
    Fs,
    FsType,
    Layout,
    LuksType,
    LvmDev,
    LvmGrp,
    LvmVol,
    Part,
    RaidArray,
    RaidDisk,
    Swap,
)
from rearbuild.layout.partitions import LabelType
from rearbuild.recover import sfdisk

DEFAULT_SECTOR_SIZE = 512
# Bytes zeroed at each partition's start and end before the new table is written: LVM labels sit in the
# first 4 sectors (pvcreate(8) --labelsector), MD 1.1/1.2 superblocks at 0/4 KiB, MD 0.90/1.0 in the last
# 64-128 KiB (md(4)), LUKS headers and file system superblocks in the first MiB. ReaR's lesson (study §2.4
# 150_wipe_disks.sh) is that a partition recreated at the same start shows the old signatures again.
WIPE_BYTES = 1024 * 1024
# A GPT keeps a backup header (1 sector) and a copy of the 128 x 128-byte entries (32 sectors of 512 bytes)
# at the end of the disk (UEFI spec 2.10 §5.3.2), so the last partition must end that much before it.
_GPT_BACKUP_SECTORS = 33
# LVM without udev (the rescue system has none): LVM creates the device nodes itself and does not wait
# for udev (lvm.conf(5) activation/udev_sync, udev_rules, devices/obtain_device_list_from_udev); a devices
# file copied from the original system would hide the new PVs (lvmdevices(8)).
LVM_CONFIG = (
    "activation { udev_sync = 0 udev_rules = 0 } devices { obtain_device_list_from_udev = 0 use_devicesfile = 0 }"
)
_VFAT_SERIAL = re.compile(r"^([0-9A-Fa-f]{4})-([0-9A-Fa-f]{4})$")


class Helper(enum.Enum):
    """Shell functions the plan script defines (rearbuild.recover.planscript), with the programs they use."""

    # Make the kernel see a new partition table: BLKRRPART, else partx (loop devices without partscan).
    REREAD = "rear_reread"
    # Wait for a device node instead of `udevadm settle` (no udev in the rescue system).
    WAIT_DEV = "rear_wait_dev"

    @property
    def programs(self) -> tuple[str, ...]:
        return {Helper.REREAD: ("blockdev", "partx"), Helper.WAIT_DEV: ("sleep",)}[self]


class StepKind(enum.Enum):
    """What a step does; the declaration order is the order of kinds in a plan (dependencies permitting)."""

    WIPE = "wipe"
    PARTITION = "partition"
    RAID = "raid"
    CRYPT = "crypt"
    PV = "pv"
    VG = "vg"
    LV = "lv"
    MKFS = "mkfs"
    MKSWAP = "mkswap"
    SUBVOLUMES = "subvolumes"
    MOUNT = "mount"

    @property
    def phase(self) -> int:
        return list(StepKind).index(self)

    @property
    def destructive(self) -> bool:
        """Whether the step overwrites what a device holds (and is logged as such before it runs)."""
        return self not in (StepKind.VG, StepKind.LV, StepKind.SUBVOLUMES, StepKind.MOUNT)


@dataclass(frozen=True)
class Command:
    """One command of a step: an argv, run without a shell.

    stdin: text fed to it (a here-document in the script); passphrase: its standard input is the passphrase
    the script read for the step (never part of the plan's text).
    """

    argv: tuple[str, ...]
    stdin: str | None = None
    passphrase: bool = False

    @property
    def helper(self) -> Helper | None:
        try:
            return Helper(self.argv[0])
        except ValueError:
            return None


def _cmd(*argv: str | int, stdin: str | None = None, passphrase: bool = False) -> Command:
    return Command(tuple(str(a) for a in argv), stdin=stdin, passphrase=passphrase)


@dataclass(frozen=True)
class Step:
    id: str
    component: str
    kind: StepKind
    description: str
    commands: tuple[Command, ...]
    # Devices whose content the step destroys.
    destroys: tuple[str, ...] = ()
    # The LUKS mapping whose passphrase the step reads from the terminal (None: no secret needed).
    passphrase_for: str | None = None
    # Asked once, not twice: opening an existing mapping (mountonly) checks it; a new one must be typed right.
    passphrase_once: bool = False


@dataclass(frozen=True)
class TargetDisk:
    """A disk the plan writes: it must exist and hold at least `needed` bytes."""

    device: str
    needed: int
    label: LabelType


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    disks: tuple[TargetDisk, ...]
    target_root: str
    source: str = "disklayout.conf"
    sector_sizes: Mapping[str, int] = field(default_factory=dict, compare=False)

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    @property
    def destroyed(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(d for s in self.steps for d in s.destroys))

    @property
    def programs(self) -> frozenset[str]:
        """Every program the plan runs, helpers resolved to what they use."""
        found: set[str] = {"bash", "mkdir", "touch", "cat"}
        for step in self.steps:
            for command in step.commands:
                helper = command.helper
                found.update(helper.programs if helper is not None else (command.argv[0],))
        return frozenset(found)

    @property
    def passphrases(self) -> tuple[str, ...]:
        return tuple(s.passphrase_for for s in self.steps if s.passphrase_for is not None)

    @property
    def keyfiles(self) -> tuple[str, ...]:
        return tuple(
            dict.fromkeys(
                c.argv[c.argv.index("--key-file") + 1]
                for s in self.steps
                for c in s.commands
                if "--key-file" in c.argv and not c.passphrase
            )
        )

    @property
    def mounts(self) -> tuple[tuple[str, str], ...]:
        """(device, target directory) of every mount the plan makes, in order."""
        return tuple((c.argv[-2], c.argv[-1]) for s in self.steps if s.kind is StepKind.MOUNT for c in s.commands
                     if c.argv[0] == "mount")  # fmt: skip


def step_slug(name: str) -> str:
    """A file-name-safe word for a component name (/dev/mapper/vg0-root -> mapper-vg0-root, fs:/ -> fs-root)."""
    text = name.removeprefix("/dev/")
    if text.endswith(":/"):
        text += "root"
    text = re.sub(r"[^A-Za-z0-9._]+", "-", text).strip("-")
    return text or "root"


def _under(root: str, mountpoint: str) -> str:
    return root if mountpoint == "/" else root.rstrip("/") + mountpoint


def _mount_options(options: str | None) -> str | None:
    """The saved mount options minus what a new file system cannot have: subvolid= (btrfs assigns new ids;
    subvol= names the same subvolume) and ro (recovery writes)."""
    if not options:
        return None
    kept = [o for o in options.split(",") if o and not o.startswith("subvolid=") and o != "ro"]
    return ",".join(kept) or None


def _kib(value: int, what: str) -> str:
    if value % 1024:
        raise UserError(f"{what} is {value} bytes, not a whole number of KiB")
    return f"{value // 1024}k"


@dataclass
class _Draft:
    step: Step
    after: set[str]
    index: int


class _Builder:
    def __init__(
        self,
        layout: Layout,
        target_root: str,
        sector_sizes: Mapping[str, int],
        keyfile_exists: Callable[[str], bool],
        lvm_metadata: Callable[[str], str | None],
    ) -> None:
        self.layout = layout
        self.graph = build_graph(layout)
        self.order = creation_order(layout, self.graph)
        self.target_root = target_root
        self.sector_sizes = sector_sizes
        self.keyfile_exists = keyfile_exists
        active = layout.active
        self.parts: dict[str, list[Part]] = {}
        for record in active:
            if isinstance(record, Part):
                self.parts.setdefault(record.disk, []).append(record)
        self.pvs: dict[str, list[LvmDev]] = {}
        for record in active:
            if isinstance(record, LvmDev):
                self.pvs.setdefault(record.vg, []).append(record)
        lvs: dict[str, list[LvmVol]] = {}
        for record in active:
            if isinstance(record, LvmVol):
                lvs.setdefault(record.vg, []).append(record)
        # The saved metadata of each volume group that vgcfgrestore can bring back whole (see _restorable).
        self.restore_files: dict[str, str] = {}
        for record in active:
            if isinstance(record, LvmGrp) and _restorable(lvs.get(record.vg, [])):
                found = lvm_metadata(record.vg_name)
                if found:
                    self.restore_files[record.vg] = found
        self.subvols = [r for r in active if isinstance(r, BtrfsSubvol) and r.kind is not BtrfsSubvolKind.SNAPSHOT]
        self.fs_places = {(r.device, r.mountpoint) for r in active if isinstance(r, Fs)}
        self.drafts: list[_Draft] = []
        self.ends: dict[str, set[str]] = {}
        self.disks: list[TargetDisk] = []
        self.unsupported: list[str] = []

    # -- assembling -------------------------------------------------------------------------------------

    def build(self) -> Plan:
        for component in self.order:
            self._component(component)
        if self.unsupported:
            raise UserError(
                f"{self.layout.source}: nothing can recreate " + "; ".join(self.unsupported),
                hint="exclude them (EXCLUDE_RECREATE=( ... ) in local.conf, or comment the lines out of a "
                "disklayout.conf in the configuration directory), or create them by hand in an edited plan",
            )
        return Plan(
            steps=self._ordered(),
            disks=tuple(self.disks),
            target_root=self.target_root,
            source=self.layout.source,
            sector_sizes=dict(self.sector_sizes),
        )

    def _ordered(self) -> tuple[Step, ...]:
        todo = list(self.drafts)
        done: set[str] = set()
        steps: list[Step] = []
        while todo:
            ready = [d for d in todo if d.after <= done]
            # build() only creates dependencies on earlier drafts, so something is always ready.
            best = min(ready, key=lambda d: (d.step.kind.phase, d.index))
            steps.append(best.step)
            done.add(best.step.id)
            todo.remove(best)
        return tuple(steps)

    def _component(self, component: Component) -> None:
        steps = self._steps(component)
        parents = self.graph.parents(component.name)
        device_parents: set[str] = set()
        mount_parents: set[str] = set()
        for parent in parents:
            found = self.graph.get(parent)
            ends = self.ends.get(parent, set())
            if found is not None and found.is_mount:
                mount_parents |= ends
            else:
                device_parents |= ends
        if not steps:
            self.ends[component.name] = device_parents | mount_parents
            return
        previous: str | None = None
        for step in steps:
            if any(d.step.id == step.id for d in self.drafts):
                raise UserError(f"{self.layout.source}: two steps would be named {step.id}")
            after = set(device_parents) if previous is None else {previous}
            if step.kind is StepKind.MOUNT:
                after |= mount_parents
            self.drafts.append(_Draft(step, after, len(self.drafts)))
            previous = step.id
        self.ends[component.name] = {steps[-1].id}

    def _steps(self, component: Component) -> list[Step]:
        record = component.record
        match record:
            case Disk():
                return self._disk(component.name, record)
            case Part():
                return []
            case RaidDisk():
                # An md array seen as a disk (ReaR writes one for every array; `loop` when it has no partition
                # table, and then the array itself is all there is to create). It exists only once the plan
                # has created the array, so it is no target disk that verify could check beforehand.
                as_disk = Disk(device=record.device, size=record.size, label=record.label)
                return self._disk(component.name, as_disk, target=False)
            case RaidArray():
                return [self._raid(component.name, record)]
            case Crypt():
                return [self._crypt(component.name, record)]
            case LvmDev():
                return [self._pv(component.name, record)]
            case LvmGrp():
                return [self._vg(component.name, record)]
            case LvmVol():
                return [self._lv(component.name, record)]
            case Fs():
                return self._fs(component.name, record)
            case BtrfsMountedSubvol():
                if (record.device, record.mountpoint) in self.fs_places:
                    return []  # mounted with its file system (the fs line names the same subvol=)
                return [self._mount(component.name, record.device, record.mountpoint, "btrfs",
                                    _mount_options(record.options) or f"subvol=/{record.path}")]  # fmt: skip
            case Swap():
                return [self._swap(component.name, record)]
        self.unsupported.append(f"{component.name} ({component.type.value})")
        return []

    # -- disks --------------------------------------------------------------------------------------------

    def _disk(self, name: str, disk: Disk, *, target: bool = True) -> list[Step]:
        used = self.graph.dependents(name)
        parts = self.parts.get(disk.device, [])
        if not used and not parts:
            return []  # nothing of the layout lives on it: leave it alone
        sector = self.sector_sizes.get(disk.device, DEFAULT_SECTOR_SIZE)
        slug = step_slug(name)
        if not disk.label.has_partition_table:
            if target:
                self.disks.append(TargetDisk(disk.device, disk.size, disk.label))
            wipe = Step(f"wipe-{slug}", name, StepKind.WIPE, f"Wipe the signatures on {disk.device}",
                        (_cmd("wipefs", "--all", "--force", disk.device),), destroys=(disk.device,))  # fmt: skip
            return [wipe]
        if disk.label.sfdisk_label is None:
            self.unsupported.append(f"{name} (a {disk.label.value} partition table)")
            return []
        end = max((p.start + p.size for p in parts), default=0)
        if disk.label.is_gpt:
            end += _GPT_BACKUP_SECTORS * sector
        if target:
            self.disks.append(TargetDisk(disk.device, end, disk.label))
        zeroes: list[Command] = []
        for offset, length in _wipe_areas(parts):
            zeroes.append(_cmd("dd", "if=/dev/zero", f"of={disk.device}", f"bs={length}", "count=1",
                               f"seek={offset}", "oflag=seek_bytes", "conv=notrunc,fsync", "status=none"))  # fmt: skip
        wipe = Step(
            f"wipe-{slug}",
            name,
            StepKind.WIPE,
            f"Wipe {disk.device}: its signatures, and old LVM/MD/LUKS/file system signatures at the starts and "
            f"ends of the {len(parts)} partitions to come",
            (_cmd("wipefs", "--all", "--force", disk.device), *zeroes),
            destroys=(disk.device,),
        )
        text = sfdisk.script(disk, parts, sector)
        numbered = sorted(p.device for p in parts)
        identity = f", disk GUID {disk.gpt_guid}" if disk.gpt_guid else ""
        partition = Step(
            f"partition-{slug}",
            name,
            StepKind.PARTITION,
            f"Write the {disk.label.value} partition table of {disk.device} ({len(parts)} partitions{identity})",
            (
                _cmd("sfdisk", "--wipe", "always", "--wipe-partitions", "always", disk.device, stdin=text),
                _cmd(Helper.REREAD.value, disk.device),
                *(_cmd(Helper.WAIT_DEV.value, p) for p in numbered),
            ),
            destroys=(disk.device,),
        )
        return [wipe, partition]

    # -- MD, LUKS, LVM ------------------------------------------------------------------------------------

    def _raid(self, name: str, md: RaidArray) -> Step:
        argv: list[str] = ["mdadm", "--create", md.device, "--run",
                           # A fresh array needs no resync before the restore writes every block it uses; the
                           # kernel checks it later on the usual schedule (md(4) "SCRUBBING").
                           "--assume-clean"]  # fmt: skip
        if md.metadata:
            argv.append(f"--metadata={md.metadata}")
        argv += [f"--level={md.level}", f"--raid-devices={md.raid_devices}"]
        if md.spare_devices:
            argv.append(f"--spare-devices={md.spare_devices}")
        if md.chunk:
            argv.append(f"--chunk={md.chunk}")
        if md.layout:
            argv.append(f"--layout={md.layout}")
        if md.name:
            # A name with a colon is stored as given (homehost:name), so the saved homehost is kept.
            argv.append(f"--name={md.name}")
        if md.uuid:
            argv.append(f"--uuid={md.uuid}")
        if md.raid_devices == 1:
            argv.append("--force")  # mdadm(8): a one-device array needs --force
        argv += md.devices
        return Step(
            f"raid-{step_slug(name)}",
            name,
            StepKind.RAID,
            f"Create {md.level} {md.device} from {', '.join(md.devices)}" + (f" (uuid {md.uuid})" if md.uuid else ""),
            (Command(tuple(argv)), _cmd(Helper.WAIT_DEV.value, md.device)),
            destroys=md.devices,
        )

    def _crypt(self, name: str, crypt: Crypt) -> Step:
        mapping = crypt.device.removeprefix("/dev/mapper/")
        kind = crypt.type or LuksType.LUKS1
        if kind not in (LuksType.LUKS1, LuksType.LUKS2):
            self.unsupported.append(f"{name} ({kind.value} encryption)")
            kind = LuksType.LUKS2
        options: list[str] = ["--batch-mode", "--type", kind.value]
        if crypt.cipher:
            options += ["--cipher", crypt.cipher]
        if crypt.key_size:
            options += ["--key-size", str(crypt.key_size)]
        if crypt.hash:
            options += ["--hash", crypt.hash]
        if crypt.uuid:
            options += ["--uuid", crypt.uuid]
        if crypt.pbkdf and kind is LuksType.LUKS2:
            options += ["--pbkdf", crypt.pbkdf]
        keyfile = crypt.keyfile if crypt.keyfile and self.keyfile_exists(crypt.keyfile) else None
        if keyfile is not None:
            key = ("--key-file", keyfile)
            how = f"key from {keyfile}"
        else:
            key = ("--key-file", "-")
            how = "passphrase asked on the terminal"
        secret = keyfile is None
        commands = (
            Command(("cryptsetup", "luksFormat", *options, *key, crypt.source), passphrase=secret),
            Command(("cryptsetup", "open", "--type", "luks", *key, crypt.source, mapping), passphrase=secret),
            _cmd(Helper.WAIT_DEV.value, crypt.device),
        )
        return Step(
            f"crypt-{step_slug(name)}",
            name,
            StepKind.CRYPT,
            f"Create {kind.value.upper()} on {crypt.source} and open it as {mapping} ({how})",
            commands,
            destroys=(crypt.source,),
            passphrase_for=crypt.device if secret else None,
        )

    def _pv(self, name: str, pv: LvmDev) -> Step:
        argv = ["lvm", "pvcreate", "--config", LVM_CONFIG, "-ff", "--yes"]
        restore = self.restore_files.get(pv.vg)
        if pv.uuid and restore:
            # The PV as the saved metadata describes it (pe_start included), for vgcfgrestore (pvcreate(8)).
            argv += ["--uuid", pv.uuid, "--restorefile", restore]
        elif pv.uuid:
            # --uuid needs a metadata backup or --norestorefile (pvcreate(8)); the VG is created afresh.
            argv += ["--uuid", pv.uuid, "--norestorefile"]
        argv.append(pv.device)
        return Step(
            f"pv-{step_slug(pv.device)}",
            name,
            StepKind.PV,
            f"Create the LVM physical volume {pv.device} of {pv.vg_name}" + (f" (uuid {pv.uuid})" if pv.uuid else ""),
            (Command(tuple(argv)),),
            destroys=(pv.device,),
        )

    def _vg(self, name: str, vg: LvmGrp) -> Step:
        devices = [pv.device for pv in self.pvs.get(vg.vg, [])]
        restore = self.restore_files.get(vg.vg)
        if restore:
            return Step(
                f"vg-{step_slug(name)}",
                name,
                StepKind.VG,
                f"Restore the volume group {vg.vg_name} on {', '.join(devices)} from its saved metadata {restore} "
                "(its UUID, every logical volume's UUID, and where each lies on the physical volumes)",
                (
                    _cmd("lvm", "vgcfgrestore", "--config", LVM_CONFIG, "--file", restore, vg.vg_name),
                    _cmd("lvm", "vgchange", "--config", LVM_CONFIG, "--activate", "y", vg.vg_name),
                ),
            )
        argv = ("lvm", "vgcreate", "--config", LVM_CONFIG, "--physicalextentsize", f"{vg.extent_size_kib}k",
                vg.vg_name, *devices)  # fmt: skip
        return Step(
            f"vg-{step_slug(name)}",
            name,
            StepKind.VG,
            f"Create the volume group {vg.vg_name} on {', '.join(devices)} (extents of {vg.extent_size_kib} KiB)",
            (Command(argv),),
        )

    def _lv(self, name: str, lv: LvmVol) -> Step:
        if lv.vg in self.restore_files:
            return Step(
                f"lv-{step_slug(name)}",
                name,
                StepKind.LV,
                f"Check the restored logical volume {lv.vg_name}/{lv.name} and clear its first signatures "
                "(lvcreate zeroes a new volume's start the same way)",
                (_cmd(Helper.WAIT_DEV.value, lv.mapper_device), _cmd("wipefs", "--all", "--force", lv.mapper_device)),
                destroys=(lv.mapper_device,),
            )
        base = ["lvm", "lvcreate", "--config", LVM_CONFIG, "--yes"]
        if lv.is_thin_volume:
            if lv.thinpool is None:
                raise UserError(f"{self.layout.source}: thin volume {lv.vg_name}/{lv.name} names no thinpool:")
            argv = [*base, "--type", "thin", "--virtualsize", f"{lv.size}b", "--thinpool", lv.thinpool]
            what = f"thin volume in pool {lv.thinpool}"
        elif lv.is_thin_pool:
            argv = [*base, "--type", "thin-pool", "--size", f"{lv.size}b"]
            if lv.poolmetadatasize:
                argv += ["--poolmetadatasize", _kib(lv.poolmetadatasize, f"{name} poolmetadatasize")]
            if lv.chunksize:
                argv += ["--chunksize", _kib(lv.chunksize, f"{name} chunksize")]
            what = "thin pool"
        else:
            argv = [*base, "--size", f"{lv.size}b"]
            what = ",".join(lv.layout)
            if lv.mirrors:
                argv += ["--type", "raid1", "--mirrors", str(lv.mirrors)]
                what = f"raid1 with {lv.mirrors} extra cop{'y' if lv.mirrors == 1 else 'ies'}"
            elif lv.stripes:
                argv += ["--stripes", str(lv.stripes)]
                if lv.stripesize:
                    argv += ["--stripesize", _kib(lv.stripesize, f"{name} stripesize")]
                what = f"{lv.stripes} stripes"
        argv += ["--name", lv.name, lv.vg_name]
        return Step(
            f"lv-{step_slug(name)}",
            name,
            StepKind.LV,
            f"Create the logical volume {lv.vg_name}/{lv.name} ({lv.size} bytes, {what})",
            (Command(tuple(argv)), _cmd(Helper.WAIT_DEV.value, lv.mapper_device)),
        )

    # -- file systems, swap, mounts -----------------------------------------------------------------------

    def _fs(self, name: str, fs: Fs) -> list[Step]:
        commands = _mkfs(fs)
        identity = ", ".join(x for x in (f"uuid {fs.uuid}" if fs.uuid else "",
                                          f"label {fs.label}" if fs.label else "") if x)  # fmt: skip
        slug = step_slug(name)
        steps = [
            Step(
                f"mkfs-{slug}",
                name,
                StepKind.MKFS,
                f"Create {fs.fstype.value} on {fs.device}" + (f" ({identity})" if identity else ""),
                commands,
                destroys=(fs.device,),
            )
        ]
        if fs.fstype is FsType.BTRFS:
            sub = self._subvolumes(name, fs)
            if sub is not None:
                steps.append(sub)
        steps.append(self._mount(name, fs.device, fs.mountpoint, fs.fstype.value, _mount_options(fs.options)))
        return steps

    def _subvolumes(self, name: str, fs: Fs) -> Step | None:
        mine = sorted((s for s in self.subvols if s.device == fs.device and s.mountpoint == fs.mountpoint),
                      key=lambda s: s.subvol_id)  # fmt: skip
        if not mine:
            return None
        top = f"/tmp/rearbuild-btrfs-{step_slug(fs.device)}"
        commands: list[Command] = [_cmd("mkdir", "-p", top), _cmd("mount", "-t", "btrfs", "-o", "subvolid=5",
                                                                   fs.device, top)]  # fmt: skip
        created: set[str] = set()
        # Created in the order of their saved ids: btrfs numbers new subvolumes from 256 upwards, so a layout
        # without gaps gets the same ids back.
        for sub in mine:
            if sub.path in created or sub.path in ("", "/"):
                continue
            parent = os.path.dirname(sub.path)
            if parent:
                commands.append(_cmd("mkdir", "-p", f"{top}/{parent}"))
            commands.append(_cmd("btrfs", "subvolume", "create", f"{top}/{sub.path}"))
            created.add(sub.path)
        default = next((s for s in mine if s.kind is BtrfsSubvolKind.DEFAULT and s.path not in ("", "/")), None)
        if default is not None:
            commands.append(_cmd("btrfs", "subvolume", "set-default", f"{top}/{default.path}"))
        commands.append(_cmd("umount", top))
        return Step(
            f"subvolumes-{step_slug(name)}",
            name,
            StepKind.SUBVOLUMES,
            f"Create the btrfs subvolumes {', '.join(sorted(created))} on {fs.device}"
            + (f" (default {default.path})" if default is not None else ""),
            tuple(commands),
        )

    def _mount(self, name: str, device: str, mountpoint: str, fstype: str, options: str | None) -> Step:
        target = _under(self.target_root, mountpoint)
        argv = ["mount", "-t", fstype]
        if options:
            argv += ["-o", options]
        argv += [device, target]
        return Step(
            f"mount-{step_slug(name)}",
            name,
            StepKind.MOUNT,
            f"Mount {device} at {target}",
            (_cmd("mkdir", "-p", target), Command(tuple(argv))),
        )

    def _swap(self, name: str, swap: Swap) -> Step:
        argv = ["mkswap"]
        if swap.uuid:
            argv += ["--uuid", swap.uuid]
        if swap.label:
            argv += ["--label", swap.label]
        argv.append(swap.device)
        return Step(
            f"mkswap-{step_slug(swap.device)}",
            name,
            StepKind.MKSWAP,
            f"Create swap on {swap.device}" + (f" (uuid {swap.uuid})" if swap.uuid else ""),
            (Command(tuple(argv)),),
            destroys=(swap.device,),
        )


def _wipe_areas(parts: list[Part]) -> list[tuple[int, int]]:
    areas: dict[int, int] = {}
    for part in parts:
        if part.size <= 0:
            continue
        length = min(WIPE_BYTES, part.size)
        areas[part.start] = max(areas.get(part.start, 0), length)
        areas[part.start + part.size - length] = max(areas.get(part.start + part.size - length, 0), length)
    return sorted(areas.items())


def _mkfs(fs: Fs) -> tuple[Command, ...]:
    device = fs.device
    match fs.fstype:
        case FsType.EXT2 | FsType.EXT3 | FsType.EXT4:
            argv = [f"mkfs.{fs.fstype.value}", "-F", "-q"]
            if fs.uuid:
                argv += ["-U", fs.uuid]
            if fs.label:
                argv += ["-L", fs.label]
            if fs.blocksize:
                argv += ["-b", str(fs.blocksize)]
            if fs.reserved_blocks is not None and fs.reserved_blocks.percent:
                argv += ["-m", str(fs.reserved_blocks.amount)]
            if fs.bytes_per_inode:
                argv += ["-i", str(fs.bytes_per_inode)]
            argv.append(device)
            # Mount count, check interval and default mount options are not mke2fs options (its -c checks
            # for bad blocks); tune2fs(8) sets them.
            tune = ["tune2fs"]
            if fs.max_mounts is not None:
                tune += ["-c", str(fs.max_mounts)]
            if fs.check_interval_days is not None:
                tune += ["-i", f"{fs.check_interval_days}d"]
            if fs.default_mount_options:
                tune += ["-o", fs.default_mount_options]
            if fs.reserved_blocks is not None and not fs.reserved_blocks.percent:
                tune += ["-r", str(fs.reserved_blocks.amount)]
            commands = [Command(tuple(argv))]
            if len(tune) > 1:
                commands.append(Command((*tune, device)))
            return tuple(commands)
        case FsType.XFS:
            argv = ["mkfs.xfs", "-f"]
            if fs.uuid:
                argv += ["-m", f"uuid={fs.uuid}"]
            if fs.label:
                argv += ["-L", fs.label]
            return (Command((*argv, device)),)
        case FsType.BTRFS:
            argv = ["mkfs.btrfs", "-f"]
            if fs.uuid:
                argv += ["-U", fs.uuid]
            if fs.label:
                argv += ["-L", fs.label]
            if fs.nodesize:
                argv += ["-n", str(fs.nodesize)]
            if fs.sectorsize:
                argv += ["-s", str(fs.sectorsize)]
            return (Command((*argv, device)),)
        case FsType.VFAT:
            argv = ["mkfs.vfat"]
            serial = _VFAT_SERIAL.match(fs.uuid or "")
            if serial is not None:
                # The vfat "UUID" is the volume serial number XXXX-XXXX (mkfs.fat(8) -i takes it as 8 hex digits).
                argv += ["-i", (serial[1] + serial[2]).upper()]
            if fs.label:
                argv += ["-n", fs.label]
            return (Command((*argv, device)),)
        case FsType.REISERFS:
            raise UserError(
                f"{fs.device} ({fs.mountpoint}) is reiserfs, which rearbuild cannot create (Linux 6.13 removed it)",
                hint="exclude it (EXCLUDE_RECREATE+=( fs:" + fs.mountpoint + " )) or change it to another type in a "
                "disklayout.conf in the configuration directory",
            )
    raise UserError(f"no mkfs for {fs.fstype.value}")


def build_plan(
    layout: Layout,
    *,
    target_root: str = "/mnt/local",
    sector_sizes: Mapping[str, int] | None = None,
    keyfile_exists: Callable[[str], bool] = os.path.exists,
    lvm_metadata: Callable[[str], str | None] = lambda vg: None,
) -> Plan:
    """The plan that recreates `layout`'s active components on the devices it names.

    sector_sizes: logical sector size by disk (default 512); keyfile_exists: whether a LUKS key file the
    layout names is present where the plan runs (else the passphrase is read from the terminal);
    lvm_metadata: where a volume group's saved metadata (vgcfgbackup) is where the plan runs, or None.
    Raises UserError naming every component nothing can create.
    """
    return _Builder(layout, target_root, sector_sizes or {}, keyfile_exists, lvm_metadata).build()


# lv_layout words (lvs -o lv_layout, what ReaR's lvmvol layout field holds) of volumes that vgcfgrestore
# brings back usable: their extents hold the data and nothing else. A thin pool's metadata volume, a raid or
# mirror's metadata subvolumes and a cache's would come back as garbage (ReaR's vgcfgrestore path refuses them
# too, layout/prepare/GNU/Linux/110_include_lvm_code.sh), so such a volume group is created anew instead.
_RESTORABLE_LAYOUTS = frozenset({"linear", "striped"})


def _restorable(lvs: list[LvmVol]) -> bool:
    return all(set(lv.layout) <= _RESTORABLE_LAYOUTS and not lv.mirrors for lv in lvs)
