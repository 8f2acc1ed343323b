"""BACKUP=BLOCKCLONE: an image of one partition (or disk) at BACKUP_URL, and the partition table and boot code of
its disk, restored block for block (ReaR 2.7: layout/save/default/350_save_partitions.sh, backup, verify and
restore/BLOCKCLONE/default/).

    backup    [BLOCKCLONE_SAVE_MBR_DEV: sfdisk -d DISK > partition_layout.conf, its first 446 bytes ->
              boot_strap.img] then BLOCKCLONE_SOURCE_DEV -> <BACKUP_URL>/<NETFS_PREFIX>/<archive> with
              dd bs=1M, ntfsclone --save-image, or partclone.<fs> -c (rearbuild's addition: only the used blocks of
              ext*, xfs, btrfs, vfat, ...), committed with its sha256 like a NETFS archive
    verify    the image is there and its sha256 matches, before any disk is touched
    restore   BLOCKCLONE_SOURCE_DEV missing and BLOCKCLONE_SAVE_MBR_DEV set: sfdisk DISK < partition_layout.conf and
              the boot code back; then the image onto the device (dd, ntfsclone --restore-image, partclone -r).
              --demo DIR: the image is restored into the file DIR/<device name>, no device is touched.

A mounted source or target is refused unless BLOCKCLONE_ALLOW_MOUNTED=yes (an image of a mounted file system may
be inconsistent); BLOCKCLONE_TRY_UNMOUNT is not implemented and refused when set.
"""

from __future__ import annotations

import enum
import os
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

from rearbuild.backup import commit
from rearbuild.backup.location import reachable
from rearbuild.checksum import sha256_file
from rearbuild.config.model import Config
from rearbuild.errors import UserError
from rearbuild.log import notice
from rearbuild.recover.options import RecoverOptions
from rearbuild.run import run
from rearbuild.url import Url, Use

BOOT_CODE_BYTES = 446  # the MBR's boot code area: bytes 0-445, before the partition table at 446 (MBR layout)


class Program(enum.Enum):
    DD = "dd"
    NTFSCLONE = "ntfsclone"
    PARTCLONE = "partclone"

    @classmethod
    def of(cls, word: str) -> Program:
        name = os.path.basename(word.strip())
        for program in cls:
            if name == program.value or (program is cls.PARTCLONE and name.startswith("partclone")):
                return program
        raise UserError(
            f"BLOCKCLONE_PROG={word!r} is not a cloning program rearbuild knows",
            hint="set BLOCKCLONE_PROG=dd, ntfsclone or partclone",
        )

    def executable(self, device: str) -> str:
        """partclone has one program per file system type (partclone.ext4, partclone.ntfs, ...)."""
        if self is not Program.PARTCLONE:
            return str(self.value)
        fstype = run(["blkid", "-o", "value", "-s", "TYPE", device], check=False).out.strip()
        if not fstype:
            raise UserError(f"{device} holds no file system blkid knows: partclone cannot clone it", hint="use dd")
        return f"partclone.{ {'vfat': 'fat'}.get(fstype, fstype) }"


@dataclass(frozen=True)
class BlockcloneSettings:
    url: Url
    prefix: str
    archive_name: str
    source_dev: str
    program: Program
    program_options: tuple[str, ...]
    mbr_dev: str
    mbr_file: str
    partitions_file: str
    allow_mounted: bool
    mount_options: str = ""


def settings(config: Config) -> BlockcloneSettings:
    source = config.text("BLOCKCLONE_SOURCE_DEV").strip()
    if not source:
        raise UserError("BACKUP=BLOCKCLONE needs BLOCKCLONE_SOURCE_DEV", hint="e.g. BLOCKCLONE_SOURCE_DEV=/dev/sda1")
    if config.flag("BLOCKCLONE_TRY_UNMOUNT"):
        raise UserError(
            f"{config.where('BLOCKCLONE_TRY_UNMOUNT')}: BLOCKCLONE_TRY_UNMOUNT is not supported yet",
            hint="unmount the device yourself, or remove the setting",
        )
    name = config.text("BACKUP_PROG_ARCHIVE") + config.text("BACKUP_PROG_SUFFIX")
    name += config.text("BACKUP_PROG_COMPRESS_SUFFIX")  # ReaR's name for the image (it is not compressed)
    return BlockcloneSettings(
        url=Url.parse(config.text("BACKUP_URL"), Use.BACKUP),
        prefix=config.text("NETFS_PREFIX"),
        archive_name=name,
        source_dev=source,
        program=Program.of(config.text("BLOCKCLONE_PROG") or "dd"),
        program_options=tuple(shlex.split(config.text("BLOCKCLONE_PROG_OPTS"))),
        mbr_dev=config.text("BLOCKCLONE_SAVE_MBR_DEV").strip(),
        mbr_file=config.text("BLOCKCLONE_MBR_FILE"),
        partitions_file=config.text("BLOCKCLONE_PARTITIONS_CONF_FILE"),
        allow_mounted=config.flag("BLOCKCLONE_ALLOW_MOUNTED"),
        mount_options=config.text("BACKUP_OPTIONS"),
    )


def required_programs(s: BlockcloneSettings) -> tuple[str, ...]:
    programs = ["sfdisk", "blkid"] if s.mbr_dev else ["blkid"]
    # the rescue system restores with partclone.restore, which reads the file system type from the image
    programs.append("partclone.restore" if s.program is Program.PARTCLONE else s.program.value)
    return tuple(programs)


def check(s: BlockcloneSettings, *, backing_up: bool) -> None:
    """What a backup needs on this host: the program and the devices (ReaR: layout/save 350, backup 500)."""
    if shutil.which(required_programs(s)[-1]) is None:
        raise UserError(
            f"BLOCKCLONE_PROG={s.program.value} is not installed", hint="apt-get install partclone (or ntfs-3g)"
        )
    if not backing_up:
        return
    for name, device in (("BLOCKCLONE_SOURCE_DEV", s.source_dev), ("BLOCKCLONE_SAVE_MBR_DEV", s.mbr_dev)):
        if device and not Path(device).is_block_device():
            raise UserError(f"{name}={device} is not a block device", hint=f"check {name}")
    _refuse_mounted(s, s.source_dev, "backup")


def _mounted(device: str) -> bool:
    return run(["findmnt", "-n", "-S", device], check=False).returncode == 0


def _refuse_mounted(s: BlockcloneSettings, device: str, what: str) -> None:
    if _mounted(device) and not s.allow_mounted:
        raise UserError(
            f"{device} is mounted: a block {what} of a mounted file system may be inconsistent",
            hint="unmount it first, or set BLOCKCLONE_ALLOW_MOUNTED=yes",
        )


# ---- backup -----------------------------------------------------------------------------------------------------


def _clone_argv(s: BlockcloneSettings, source: str, image: Path) -> list[str]:
    match s.program:
        case Program.DD:
            return ["dd", "bs=1M", *s.program_options, f"if={source}", f"of={image}", "status=none"]
        case Program.NTFSCLONE:
            return ["ntfsclone", "--save-image", *s.program_options, "-O", str(image), source]
        case Program.PARTCLONE:
            return [s.program.executable(source), "-c", *s.program_options, "-s", source, "-O", str(image)]


def _restore_argv(s: BlockcloneSettings, image: Path, device: str) -> list[str]:
    match s.program:
        case Program.DD:
            return ["dd", "bs=1M", *s.program_options, f"if={image}", f"of={device}", "status=none"]
        case Program.NTFSCLONE:
            return ["ntfsclone", "-q", "--restore-image", *s.program_options, "-O", device, str(image)]
        case Program.PARTCLONE:
            # partclone.restore reads the file system type from the image's header
            return ["partclone.restore", *s.program_options, "-s", str(image), "-O", device]


def make_backup(s: BlockcloneSettings, mount_dir: Path) -> Path:
    """The partition table and boot code (when asked), then the image; returns the image."""
    with reachable(s.url, mount_dir, write=True, iso_volid="", options=s.mount_options) as root:
        directory = s.url.archive_dir(root, s.prefix)
        directory.mkdir(parents=True, exist_ok=True)
        with commit.locked(directory, f"backup to BACKUP_URL={s.url.text}"):
            if s.mbr_dev:
                table = run(["sfdisk", "-d", s.mbr_dev]).out
                (directory / s.partitions_file).write_text(table)
                with open(s.mbr_dev, "rb") as disk:
                    (directory / s.mbr_file).write_bytes(disk.read(BOOT_CODE_BYTES))
                notice("saved the partition table and boot code of %s", s.mbr_dev)
            archive = directory / s.archive_name
            commit.clear_leftovers(archive)
            os.close(commit.create_partial(archive))
            partial = commit.partial_of(archive)
            notice("imaging %s with %s into %s", s.source_dev, s.program.value, archive)
            try:
                run(_clone_argv(s, s.source_dev, partial), timeout=None)
                digest = sha256_file(partial)
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
            commit.commit(archive, digest)
    return archive


# ---- verify and restore -----------------------------------------------------------------------------------------


def verify(s: BlockcloneSettings, mount_dir: Path) -> Path:
    with reachable(s.url, mount_dir, write=False, iso_volid="", options=s.mount_options) as root:
        directory = s.url.archive_dir(root, s.prefix)
        archive = directory / s.archive_name
        if not archive.is_file():
            raise UserError(
                f"no image {archive} (BACKUP_URL={s.url.text}, NETFS_PREFIX={s.prefix})",
                hint="check BACKUP_URL, NETFS_PREFIX and BACKUP_PROG_ARCHIVE; nothing was written",
            )
        commit.verify(archive)
        if s.mbr_dev and not (directory / s.partitions_file).is_file():
            raise UserError(f"no partition table {directory / s.partitions_file} beside the image")
    notice("image %s is intact", archive)
    return archive


def _recreate_partitions(s: BlockcloneSettings, directory: Path) -> None:
    """ReaR's 390_create_partitions.sh: only when the partition to restore is missing."""
    if not s.mbr_dev or Path(s.source_dev).is_block_device():
        return
    if not s.source_dev.startswith(s.mbr_dev):
        raise UserError(
            f"BLOCKCLONE_SAVE_MBR_DEV={s.mbr_dev} is not the disk of BLOCKCLONE_SOURCE_DEV={s.source_dev}",
            hint="set BLOCKCLONE_SAVE_MBR_DEV to the disk that holds the partition; nothing was written",
        )
    notice("creating the partition table of %s", s.mbr_dev)
    run(["sfdisk", "--no-reread", s.mbr_dev], input=(directory / s.partitions_file).read_bytes())
    boot = (directory / s.mbr_file).read_bytes()[:BOOT_CODE_BYTES]
    with open(s.mbr_dev, "r+b") as disk:
        disk.write(boot)
    run(["partx", "-u", s.mbr_dev], check=False)  # partprobe does not update loop devices' partitions
    run(["partx", "-a", s.mbr_dev], check=False)
    run(["udevadm", "settle", "--timeout=30"], check=False)
    if not Path(s.source_dev).is_block_device():
        raise UserError(f"{s.source_dev} did not appear after the partition table of {s.mbr_dev} was written")


def restore(s: BlockcloneSettings, options: RecoverOptions, mount_dir: Path) -> str:
    """The image onto BLOCKCLONE_SOURCE_DEV (or, --demo, into the file DIR/<device name>); returns where."""
    with reachable(s.url, mount_dir, write=False, iso_volid="", options=s.mount_options) as root:
        directory = s.url.archive_dir(root, s.prefix)
        archive = directory / s.archive_name
        if options.demo:
            target = options.target_root / Path(s.source_dev).name
            target.parent.mkdir(parents=True, exist_ok=True)
            notice("demo: restoring %s into the file %s (no device is touched)", archive, target)
            # partclone -W: a raw file of the file system's full size (its holes stay holes)
            extra = ["-W"] if s.program is Program.PARTCLONE else []
            run([*_restore_argv(s, archive, str(target)), *extra], timeout=None)
            return str(target)
        _recreate_partitions(s, directory)
        if not Path(s.source_dev).is_block_device():
            raise UserError(f"no device {s.source_dev} to restore the image onto", hint="check BLOCKCLONE_SOURCE_DEV")
        _refuse_mounted(s, s.source_dev, "restore")
        notice("restoring %s onto %s with %s", archive, s.source_dev, s.program.value)
        run(_restore_argv(s, archive, s.source_dev), timeout=None)
        run(["sync"], check=False)
    return s.source_dev
