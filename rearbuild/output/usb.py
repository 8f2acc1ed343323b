"""The USB medium (ReaR's OUTPUT=USB and `format`, rear-upstream-study.md §4.5), and the file tree it shares with
RAWDISK: every mkrescue adds `rear/$HOSTNAME/<timestamp>/` (kernel, initrd.cgz, cmdline) to the data partition,
older ones beyond USB_RETAIN_BACKUP_NR go, and /boot/grub/grub.cfg lists every kept rescue system.

Layout (GPT, ReaR's default "hybrid" format): a BIOS boot partition from byte 24576 (GRUB's core.img), the ESP
`REAR-EFI` of USB_UEFI_PART_SIZE MiB (EFI/BOOT/BOOTX64.EFI), the data partition `REAR-000` of
USB_DEVICE_FILESYSTEM over the rest. A stick (a device or a disk image file that stands for one) is formatted
once, then updated by every mkrescue (the data partition loop-mounted by offset, the ESP written with mtools,
since the ESP's vfat may be missing from the kernel); the USB image file of OUTPUT=USB without USB_DEVICE is made
in one go without root or mount (rearbuild.output.diskimage).
"""

from __future__ import annotations

import contextlib
import datetime
import enum
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from rearbuild.errors import UserError
from rearbuild.output import diskimage, stickwrite
from rearbuild.output.bootloader import EfiLoader, SignedShim
from rearbuild.output.bootmenu import BootMenu, IsoDefault, SerialConsole, Templates
from rearbuild.output.diskimage import MIB, Partition, PartType
from rearbuild.output.efi import copy_into_fat, format_fat
from rearbuild.output.pinned import derive_bytes, derive_u32
from rearbuild.run import run

REAR_DIR = "rear"
KERNEL_NAME, INITRD_NAME, CMDLINE_NAME = "kernel", "initrd.cgz", "cmdline"
MENU_PATH = "boot/grub/grub.cfg"
ESP_LABEL = "REAR-EFI"  # ReaR's, found by its GRUB2_SEARCH_ROOT_COMMAND
# Room for the file system's own metadata (ext journal, inode tables, FAT tables) in an image sized to fit.
SLACK_BYTES = 16 * MIB


class Firmware(enum.Enum):
    """What the medium boots on: `format --bios`, `--efi`, or both (ReaR's default since rear#2698)."""

    BIOS = "bios"
    EFI = "efi"
    BOTH = "both"

    @property
    def bios(self) -> bool:
        return self is not Firmware.EFI

    @property
    def efi(self) -> bool:
        return self is not Firmware.BIOS


@dataclass(frozen=True)
class RescueSystem:
    """One rescue system on the medium: rear/<host>/<name>/."""

    host: str
    name: str

    @property
    def directory(self) -> str:
        return f"{REAR_DIR}/{self.host}/{self.name}"


@dataclass(frozen=True)
class MenuSettings:
    """How the medium's menu looks: the kernel parameters come from each rescue system's cmdline file."""

    templates: Templates
    timeout_ds: int | None = 50
    default: IsoDefault = IsoDefault.MANUAL
    recover_mode: str | None = None
    serial: SerialConsole | None = field(default_factory=SerialConsole)


@dataclass(frozen=True)
class BootLoaders:
    """The boot loaders the medium carries. efi: None for BIOS only; chain: the signed shim and GRUB."""

    bios: bool = True
    efi: EfiLoader | None = EfiLoader.STANDALONE_GRUB
    chain: SignedShim | None = None


def run_name(now: datetime.datetime, suffix: str = "") -> str:
    """ReaR's rear/$HOSTNAME/<name>: USB_SUFFIX when set, else YYYYMMDD.HHMM
    (prep/USB/default/060_set_usb_device.sh)."""
    return suffix.strip() or now.strftime("%Y%m%d.%H%M")


def marker_for(seed: str) -> str:
    return f"/.disk/rearbuild-usb-{derive_bytes(seed, 'usb-marker', 8).hex()}"


def add_system(root: Path, system: RescueSystem, kernel: Path, initrd: Path, cmdline: Sequence[str]) -> Path:
    """Copy a rescue system into the tree at root; an existing one of the same name is replaced."""
    target = root / system.directory
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    shutil.copyfile(kernel, target / KERNEL_NAME)
    shutil.copyfile(initrd, target / INITRD_NAME)
    (target / CMDLINE_NAME).write_text(" ".join(cmdline) + "\n")
    return target


def kept_systems(root: Path) -> list[RescueSystem]:
    """Every rescue system in the tree (a directory with a kernel), newest first (names sort by date)."""
    found = [
        RescueSystem(kernel.parent.parent.name, kernel.parent.name)
        for kernel in (root / REAR_DIR).glob(f"*/*/{KERNEL_NAME}")
    ]
    return sorted(found, key=lambda s: (s.name, s.host), reverse=True)


def prune(root: Path, host: str, keep: int) -> list[RescueSystem]:
    """Remove `host`'s rescue systems beyond the `keep` newest (USB_RETAIN_BACKUP_NR); returns what went."""
    if keep < 1:
        raise UserError(f"USB_RETAIN_BACKUP_NR={keep} would remove the rescue system just written",
                        hint="set USB_RETAIN_BACKUP_NR to 1 or more")  # fmt: skip
    mine = [s for s in kept_systems(root) if s.host == host]
    for old in mine[keep:]:
        shutil.rmtree(root / old.directory)
    return mine[keep:]


def write_menu(root: Path, settings: MenuSettings, marker: str) -> str:
    """/boot/grub/grub.cfg listing every rescue system of the tree, and the marker file the GRUBs look for."""
    menus = []
    for system in kept_systems(root):
        cmdline = tuple((root / system.directory / CMDLINE_NAME).read_text().split())
        menus.append(BootMenu(
            kernel=f"/{system.directory}/{KERNEL_NAME}", initrd=f"/{system.directory}/{INITRD_NAME}", marker=marker,
            cmdline=cmdline, default=settings.default, timeout_ds=settings.timeout_ds,
            recover_mode=settings.recover_mode, serial=settings.serial,
            title=f"Relax-and-Recover {system.host} {system.name}",
        ))  # fmt: skip
    text = settings.templates.disk_grub_cfg(menus)
    menu = root / MENU_PATH
    menu.parent.mkdir(parents=True, exist_ok=True)
    menu.write_text(text)
    (root / marker.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
    (root / marker.lstrip("/")).write_text(marker.rpartition("-")[2] + "\n")
    return text


def _efi_files(workdir: Path, loaders: BootLoaders, early: str) -> dict[str, Path | bytes]:
    if loaders.efi is None:
        return {}
    return loaders.efi.efi_files(workdir, early_config=early, chain=loaders.chain)


def _grub_core(workdir: Path, early: str) -> Path:
    cfg = workdir / "grub-early-pc.cfg"
    cfg.write_text(early)
    return diskimage.build_grub_core(workdir / "core.img", cfg)


def _set_dates(root: Path, epoch: int) -> None:
    """Every file and directory of a tree dated epoch (mke2fs -d copies the source's times)."""
    for path in sorted(root.rglob("*"), reverse=True):
        os.utime(path, (epoch, epoch), follow_symlinks=False)
    os.utime(root, (epoch, epoch))


# ---- the USB image file: made in one go, reproducible ----------------------------------------------------------


@dataclass(frozen=True)
class UsbImageSpec:
    esp_bytes: int = 1024 * MIB  # USB_UEFI_PART_SIZE
    filesystem: str = "ext3"  # USB_DEVICE_FILESYSTEM
    label: str = "REAR-000"  # USB_DEVICE_FILESYSTEM_LABEL
    fs_params: tuple[str, ...] = ()  # USB_DEVICE_FILESYSTEM_PARAMS


def build_usb_image(
    out: Path, system: RescueSystem, *, kernel: Path, initrd: Path, cmdline: Sequence[str], menu: MenuSettings,
    loaders: BootLoaders, spec: UsbImageSpec, epoch: int, seed: str,
) -> Path:  # fmt: skip
    """A disk image file with ReaR's USB layout holding one rescue system; byte-identical for the same inputs."""
    marker = marker_for(seed)
    with tempfile.TemporaryDirectory(prefix=".usb-image-", dir=out.parent if out.parent.exists() else None) as tmp:
        work = Path(tmp)
        tree = work / "tree"
        tree.mkdir()
        add_system(tree, system, kernel, initrd, cmdline)
        write_menu(tree, menu, marker)
        _set_dates(tree, epoch)
        content = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file())
        data_bytes = content + content // 10 + SLACK_BYTES
        sizes = [(ESP_LABEL, PartType.ESP, spec.esp_bytes)] if loaders.efi else []
        sizes.append((spec.label, PartType.LINUX, data_bytes))
        parts = diskimage.layout(sizes, align=MIB, bios_boot=loaders.bios)
        diskimage.create_image_file(out, diskimage.disk_size(parts, MIB))
        diskimage.write_partition_table(out, parts, seed)
        early = menu.templates.grub_early_cfg(marker)
        esp = next((p for p in parts if p.type is PartType.ESP), None)
        if esp is not None:
            format_fat(out, offset=esp.start, size=esp.size, label=ESP_LABEL, volume_id=derive_u32(seed, "esp"))
            copy_into_fat(f"{out}@@{esp.start}", _efi_files(work, loaders, early), epoch=epoch)
        data = next(p for p in parts if p.type is PartType.LINUX)
        diskimage.mke2fs(out, data, fstype=spec.filesystem, label=spec.label, seed=seed, epoch=epoch, content=tree,
                         params=spec.fs_params)  # fmt: skip
        if loaders.bios:
            diskimage.install_grub_bios(out, parts[0], _grub_core(work, early))
    return out


# ---- a stick: format once, then every mkrescue adds to it --------------------------------------------------------


@dataclass(frozen=True)
class FormatSpec:
    firmware: Firmware = Firmware.BOTH
    esp_bytes: int = 1024 * MIB  # USB_UEFI_PART_SIZE
    align_bytes: int = 8 * MIB  # USB_PARTITION_ALIGN_BLOCK_SIZE
    percentage: int = 100  # USB_DEVICE_FILESYSTEM_PERCENTAGE
    filesystem: str = "ext3"
    label: str = "REAR-000"
    fs_params: tuple[str, ...] = ()


def device_size(target: Path) -> int:
    with target.open("rb") as fp:
        return fp.seek(0, 2)


def format_layout(size: int, spec: FormatSpec) -> tuple[Partition, ...]:
    """ReaR's format layout on a medium of `size` bytes (format/USB/default/300_format_usb_disk.sh)."""
    if not 1 <= spec.percentage <= 100:
        raise UserError(f"USB_DEVICE_FILESYSTEM_PERCENTAGE={spec.percentage} must be 1..100")
    usable = (size * spec.percentage // 100) - diskimage.GPT_BACKUP_BYTES
    usable = usable // spec.align_bytes * spec.align_bytes
    used = spec.align_bytes + (spec.esp_bytes if spec.firmware.efi else 0)
    if usable - used < 64 * MIB:  # room for at least one rescue system of the smallest kind
        raise UserError(f"the medium ({size // MIB} MiB) is too small for the ReaR layout",
                        hint="use a larger stick or a smaller USB_UEFI_PART_SIZE")  # fmt: skip
    sizes = [(ESP_LABEL, PartType.ESP, spec.esp_bytes)] if spec.firmware.efi else []
    sizes.append((spec.label, PartType.LINUX, usable - used))
    return diskimage.layout(sizes, align=spec.align_bytes, bios_boot=spec.firmware.bios)


def format_medium(target: Path, spec: FormatSpec, *, seed: str, epoch: int) -> tuple[Partition, ...]:
    """Partition and format the medium (everything on it is lost): GPT, ESP, empty data partition."""
    parts = format_layout(device_size(target), spec)
    diskimage.write_partition_table(target, parts, seed)
    for part in parts:
        if part.type is PartType.ESP:
            format_fat(target, offset=part.start, size=part.size, label=ESP_LABEL, volume_id=derive_u32(seed, "esp"))
        elif part.type is PartType.LINUX:
            diskimage.mke2fs(target, part, fstype=spec.filesystem, label=spec.label, seed=seed, epoch=epoch,
                             params=spec.fs_params)  # fmt: skip
    return parts


@dataclass(frozen=True)
class Medium:
    """A formatted stick: its partitions as found, and the seed of its marker (the GPT disk id)."""

    target: Path
    data: Partition
    esp: Partition | None
    bios_boot: Partition | None
    seed: str


def _label_at(target: Path, part: Partition) -> str:
    result = run(["blkid", "-p", "-O", str(part.start), "-S", str(part.size), "-o", "value", "-s", "LABEL", target],
                 check=False)  # fmt: skip
    return result.out.strip()


def open_medium(target: Path, label: str) -> Medium:
    """The formatted stick at target; UserError when it is not formatted for ReaR, or mounted (a second mount of
    its data partition by offset would corrupt it)."""
    if target.exists() and stat.S_ISBLK(target.stat().st_mode):
        mounts = stickwrite.inspect(target).mountpoints
        if mounts:
            raise UserError(f"{target} is mounted on {', '.join(sorted(mounts))}",
                            hint="unmount it; mkrescue mounts the stick itself")  # fmt: skip
    parts = diskimage.partitions_of(target)
    data = [p for p in parts if p.type is PartType.LINUX and _label_at(target, p) == label]
    if not data:
        raise UserError(f"{target} has no data partition labelled {label}",
                        hint=f"format it first: rearbuild format -- --yes {target}")  # fmt: skip
    table = json.loads(run(["sfdisk", "-J", target]).out)["partitiontable"]
    return Medium(
        target=target,
        data=data[0],
        esp=next((p for p in parts if p.type is PartType.ESP), None),
        bios_boot=next((p for p in parts if p.type is PartType.BIOS_BOOT), None),
        seed=str(table.get("id", target)),
    )


@contextlib.contextmanager
def mounted_data(medium: Medium, mountpoint: Path) -> Iterator[Path]:
    """The data partition loop-mounted by its offset (works for a device and for a disk image file alike)."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    options = f"loop,offset={medium.data.start},sizelimit={medium.data.size}"
    run(["mount", "-o", options, medium.target, mountpoint], hint="mounting needs root (as in ReaR)")
    try:
        yield mountpoint
    finally:
        run(["umount", mountpoint])


def update_medium(
    medium: Medium, system: RescueSystem, *, kernel: Path, initrd: Path, cmdline: Sequence[str],
    menu: MenuSettings, loaders: BootLoaders, keep: int | None, epoch: int, workdir: Path,
    extra: Mapping[str, Path] | None = None, dated: bool = True,
) -> list[RescueSystem]:  # fmt: skip
    """mkrescue onto a formatted stick: add the rescue system, prune beyond `keep` (None: USB_SUFFIX, keep all),
    rewrite the menu and the boot loaders. dated: a name that is there already gets a suffix (USB_SUFFIX unset),
    else it is replaced. extra: more files for the rescue system's directory. Returns what is on the stick now,
    newest first."""
    marker = marker_for(medium.seed)
    early = menu.templates.grub_early_cfg(marker)
    loaders = replace(loaders, efi=loaders.efi if medium.esp else None, bios=loaders.bios and bool(medium.bios_boot))
    with mounted_data(medium, workdir / "outputfs") as root:
        if dated:
            system = unique_name(root, system)
        target = add_system(root, system, kernel, initrd, cmdline)
        for name, source in (extra or {}).items():
            shutil.copyfile(source, target / name)
        if keep is not None:
            prune(root, system.host, keep)
        write_menu(root, menu, marker)
        systems = kept_systems(root)
    if medium.esp is not None and loaders.efi is not None:
        copy_into_fat(f"{medium.target}@@{medium.esp.start}", _efi_files(workdir, loaders, early), epoch=epoch,
                      replace=True)  # fmt: skip
    if medium.bios_boot is not None and loaders.bios:
        diskimage.install_grub_bios(medium.target, medium.bios_boot, _grub_core(workdir, early))
    return systems


def configured_device(usb_device: str, *urls: str) -> Path | None:
    """The stick: USB_DEVICE, else the device of a usb:// BACKUP_URL or OUTPUT_URL (ReaR's prep/USB 060); None: no
    stick, OUTPUT=USB builds the USB image file."""
    if usb_device.strip():
        return Path(usb_device.strip())
    for url in urls:
        if url.startswith("usb://"):
            return Path(url.removeprefix("usb://"))
    return None


def whole_disk(device: Path) -> Path:
    """The disk a partition (e.g. /dev/disk/by-label/REAR-000 -> /dev/sdb1) belongs to; the path itself for a
    whole disk or a disk image file (sysfs: a partition's directory has a `partition` file, inside its disk's)."""
    real = Path(os.path.realpath(device))
    if not real.exists():
        raise UserError(f"the USB device {device} does not exist", hint="plug in the stick, or check USB_DEVICE")
    sys_dir = Path("/sys/class/block") / real.name
    if real.parent == Path("/dev") and (sys_dir / "partition").is_file():
        return Path("/dev") / Path(os.path.realpath(sys_dir)).parent.name
    return real


def unique_name(root: Path, system: RescueSystem) -> RescueSystem:
    """A dated name already on the stick (two runs in one minute) gets .2, .3, ...: each run adds one."""
    name, n = system.name, 1
    while (root / RescueSystem(system.host, name).directory).exists():
        n += 1
        name = f"{system.name}.{n}"
    return RescueSystem(system.host, name)


def kept_systems_on(medium: Medium, mountpoint: Path) -> list[RescueSystem]:
    """The rescue systems on a formatted stick, newest first."""
    with mounted_data(medium, mountpoint) as root:
        return kept_systems(root)
