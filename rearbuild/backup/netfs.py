"""BACKUP=NETFS: a tar archive of the system at BACKUP_URL, and its restore (study §6 NETFS, §5.2 item 5).

    backup    tar -c (the layout's mount tree) | [compress] | [openssl enc] -> <dir>/backup.tar.gz.partial,
              renamed to backup.tar.gz when complete, backup.tar.gz.sha256 and the directory record beside it
    verify    the archive is there, its sha256 matches, and its first megabyte decrypts and decompresses to a
              tar header (a wrong key is found here, before any disk is touched)
    restore   backup.tar.gz -> [openssl enc -d] | [decompress] | tar -x into the target (/mnt/local or --demo DIR),
              then the recorded mount points and top-level directories that are missing

The recipes in recipes/{prep,backup,verify,restore}/NETFS/ are thin calls of the functions here; they read the
configuration into NetfsSettings (settings()) and pass the run's places (Places) in.
"""

from __future__ import annotations

import contextlib
import datetime
import difflib
import enum
import getpass
import hashlib
import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rearbuild.atomicfile import atomic_write
from rearbuild.backup import commit, directories
from rearbuild.backup.archive import (
    TAR_CHANGED_FILES,
    ArchiveFormat,
    Encryption,
    compression_from_tar_options,
    create_step,
    extract_step,
    parse_compression,
)
from rearbuild.backup.chain import RESTORE_OPTION, BackupType, ChainSettings, Plan, plan_backup, restore_chain
from rearbuild.backup.location import reachable
from rearbuild.backup.pipeline import Step, stream
from rearbuild.backup.progress import Progress, human_bytes
from rearbuild.backup.selection import Selection, backup_selection, layout_mountpoints, used_bytes
from rearbuild.backup.tape import Drive, TapeLayout, TapeSettings, Trailer, nonrewinding, parse_block_size
from rearbuild.compression import Codec
from rearbuild.config.model import Config
from rearbuild.errors import UserError
from rearbuild.layout.disklayout import read_layout
from rearbuild.layout.model import Layout
from rearbuild.log import notice
from rearbuild.recover.options import RecoverOptions
from rearbuild.recover.target import restore_target
from rearbuild.run import run
from rearbuild.url import Reach, Scheme, Url, Use

log = logging.getLogger("rearbuild.backup")

_PROBE_BYTES = 1 << 20  # bzip2's largest block is 900 kB (bzip2(1)): one whole block fits in a MiB
_TAR_MAGIC_OFFSET = 257  # POSIX ustar header: magic "ustar" at byte 257 (pax extended headers have it too)


_FULL_EACH_TIME = ChainSettings(BackupType.FULL)


@dataclass(frozen=True)
class NetfsSettings:
    url: Url
    prefix: str
    archive: ArchiveFormat
    tar_options: tuple[str, ...]
    mount_options: str
    iso_volid: str
    keep_old: bool
    iso_file_limit: int  # ISO_FILE_SIZE_LIMIT: the largest file the rescue ISO holds (BACKUP_URL=iso://)
    include: tuple[str, ...] = ()  # BACKUP_PROG_INCLUDE
    only_include: bool = False  # BACKUP_ONLY_INCLUDE
    exclude: tuple[str, ...] = ()  # BACKUP_PROG_EXCLUDE
    only_exclude: bool = False  # BACKUP_ONLY_EXCLUDE
    exclude_mountpoints: tuple[str, ...] = ()  # EXCLUDE_MOUNTPOINTS: file systems recreated but not backed up
    chain: ChainSettings = _FULL_EACH_TIME  # BACKUP_TYPE, FULLBACKUPDAY, FULLBACKUP_OUTDATED_DAYS
    integrity_md5: bool = False  # BACKUP_INTEGRITY_CHECK: ReaR's <archive>.md5 beside the archive, checked too
    tape: TapeSettings | None = None  # BACKUP_URL=tape:// (or TAPE_DEVICE): the archive is the tape itself

    @property
    def key(self) -> str:
        """The encryption key in use ("" without encryption), for the run to remember once typed."""
        return self.archive.encryption.key if self.archive.encryption is not None else ""


@dataclass(frozen=True)
class Places:
    """Where the run works: its scratch directory ($TMP_DIR), where a location is mounted ($BUILD_DIR/outputfs,
    ReaR's name), the state directory's recovery/ (the directory record), and what never goes into a backup."""

    work_dir: Path
    mount_dir: Path
    recovery_dir: Path
    never_backed_up: tuple[str, ...] = ()  # rearbuild's own files: own_files()


def own_files(
    *, cache_dir: Path, var_dir: Path, build_dir: Path | None, iso_dir: str, output_url: str, output_prefix: str
) -> tuple[str, ...]:
    """What rearbuild itself writes and no backup may carry: its cache, the build areas (TMPDIR/rear.*: a killed
    run's too), VAR_DIR/output, ISO_DIR and a file:// OUTPUT_URL (rescue images, earlier backups' ISOs)."""
    paths = [str(cache_dir), str(var_dir / "output")]
    if build_dir is not None:
        paths.append(str(build_dir.parent / "rear.*"))
    if iso_dir.strip():
        paths.append(iso_dir.strip())
    if Scheme.of(output_url.strip()) is Scheme.FILE:
        url = Url.parse(output_url.strip(), Use.OUTPUT)
        paths.append(str(url.archive_dir(Path(url.path), output_prefix)))
    return tuple(dict.fromkeys(os.path.normpath(p) for p in paths))


class KeyNeed(enum.Enum):
    """How much the run needs the encryption key (BACKUP_PROG_CRYPT_KEY)."""

    NONE = "none"  # building the rescue image: the key is not used (and never goes into the image)
    CONFIGURED = "configured"  # backing up: the configuration must give it
    ASK = "ask"  # restoring: the configuration, the key typed earlier in this run, else the operator types it

    def key(self, configured: str, *, typed: str = "", interactive: bool = False) -> str:
        if self is KeyNeed.NONE:
            return "-"
        if configured or typed:
            return configured or typed
        if self is KeyNeed.CONFIGURED:
            raise UserError(
                "BACKUP_PROG_CRYPT_ENABLED is set but BACKUP_PROG_CRYPT_KEY is empty",
                hint="set the key in a file only root can read and pass it with -C FILE, or in local.conf",
            )
        if not interactive:
            raise UserError(
                "the backup is encrypted and no key was given (the rescue image never contains it)",
                hint="run again with -C FILE where FILE sets BACKUP_PROG_CRYPT_KEY=..., or interactively to type it",
            )
        key = getpass.getpass("Key of the encrypted backup (BACKUP_PROG_CRYPT_KEY): ")
        if not key:
            raise UserError("no key typed in: the encrypted backup cannot be restored")
        return key


def _compression(config: Config) -> tuple[Codec, str]:
    word = config.text("BACKUP_PROG_COMPRESS").strip()
    if word:
        chosen = parse_compression(word)
        return chosen, chosen.suffix
    return compression_from_tar_options(config.items("BACKUP_PROG_COMPRESS_OPTIONS")), config.text(
        "BACKUP_PROG_COMPRESS_SUFFIX"
    )


def _scalar(config: Config, name: str, example: str) -> str:
    """A setting that is one word: an array would be joined with blanks into a path nobody meant."""
    if name in config and config.settings[name].is_array:
        raise UserError(
            f"{config.where(name)}: {name} is an array; it takes one value",
            hint=f"write it without parentheses, e.g. {name}={example}",
        )
    return config.text(name)


_CRYPT_NAMES = ("BACKUP_PROG_CRYPT_ENABLED", "BACKUP_PROG_CRYPT_KEY", "BACKUP_PROG_CRYPT_OPTIONS")
_CRYPT_LIKENESS = 0.8  # difflib ratio: BACKUP_CRYPT_KEY vs BACKUP_PROG_CRYPT_KEY is 0.86, unrelated names < 0.6


def refuse_crypt_typos(config: Config) -> None:
    """A setting that looks like encryption but is not one rearbuild reads would let the backup be written
    unencrypted with exit 0: the configuration loader only warns about unknown names, here it is fatal."""
    known = sorted(n for n in config.known if "CRYPT" in n) or list(_CRYPT_NAMES)
    for setting in config:
        name = setting.name
        if name in config.known or "CRYPT" not in name.upper():
            continue
        close = difflib.get_close_matches(name.upper(), known, n=1, cutoff=_CRYPT_LIKENESS)
        if not close and not name.upper().startswith("BACKUP"):
            continue  # a variable of the user's own recipes that merely mentions crypt
        right = close[0] if close else "BACKUP_PROG_CRYPT_ENABLED"
        raise UserError(
            f"{config.where(name)}: {name} is not a rearbuild setting (did you mean {right}?); "
            "a backup meant to be encrypted would be written unencrypted",
            hint=f"rename it to {right} (encryption: BACKUP_PROG_CRYPT_ENABLED=y and BACKUP_PROG_CRYPT_KEY=...)",
        )


def _outdated_days(config: Config) -> int:
    """FULLBACKUP_OUTDATED_DAYS; empty means ReaR's default, 7 (prep/NETFS/default/070_set_backup_archive.sh)."""
    return config.number("FULLBACKUP_OUTDATED_DAYS") if config.text("FULLBACKUP_OUTDATED_DAYS").strip() else 7


def settings(config: Config, *, key: KeyNeed, typed_key: str = "", interactive: bool = False) -> NetfsSettings:
    """The NETFS configuration, checked. typed_key: a key the operator typed earlier in this run."""
    refuse_crypt_typos(config)
    url = Url.parse(_backup_url(config), Use.BACKUP)
    program = config.text("BACKUP_PROG").strip()
    if os.path.basename(program) != "tar":
        raise UserError(f"BACKUP_PROG={program!r}: rearbuild's NETFS supports only tar", hint="remove the setting")
    chain = ChainSettings(
        BackupType.parse(config.text("BACKUP_TYPE")),
        full_days=config.items("FULLBACKUPDAY"),
        outdated_days=_outdated_days(config),
    )
    if chain.kind.chained and url.scheme.in_rescue_image:
        raise UserError(
            f"BACKUP_TYPE={chain.kind.value} with BACKUP_URL={url.text}: each rescue ISO would hold only one level "
            "of the chain",
            hint="use BACKUP_URL=file://, nfs:// or usb:// for incremental backups, or leave BACKUP_TYPE empty",
        )
    compression, suffix = _compression(config)
    encryption = None
    if config.flag("BACKUP_PROG_CRYPT_ENABLED"):
        configured = config.text("BACKUP_PROG_CRYPT_KEY")
        encryption = Encryption(key.key(configured, typed=typed_key, interactive=interactive))
    archive = ArchiveFormat(
        compression,
        suffix,
        encryption,
        base=config.text("BACKUP_PROG_ARCHIVE") or "backup",
        tar_suffix=config.text("BACKUP_PROG_SUFFIX"),
    )
    return NetfsSettings(
        url=url,
        prefix=_scalar(config, "NETFS_PREFIX", "$HOSTNAME"),
        archive=archive,
        tar_options=config.items("BACKUP_PROG_OPTIONS"),
        mount_options=config.text("BACKUP_OPTIONS"),
        iso_volid=config.text("ISO_VOLID"),
        keep_old=config.flag("NETFS_KEEP_OLD_BACKUP_COPY"),
        iso_file_limit=config.number("ISO_FILE_SIZE_LIMIT"),
        include=config.items("BACKUP_PROG_INCLUDE"),
        only_include=config.flag("BACKUP_ONLY_INCLUDE"),
        exclude=config.items("BACKUP_PROG_EXCLUDE"),
        only_exclude=config.flag("BACKUP_ONLY_EXCLUDE"),
        exclude_mountpoints=config.items("EXCLUDE_MOUNTPOINTS"),
        chain=chain,
        integrity_md5=config.flag("BACKUP_INTEGRITY_CHECK"),
        tape=_tape(config, url),
    )


def _backup_url(config: Config) -> str:
    """BACKUP_URL, or tape://$TAPE_DEVICE when only TAPE_DEVICE is set (ReaR: prep/default/030_translate_tape.sh)."""
    text = _scalar(config, "BACKUP_URL", "file:///srv/backup")
    device = _scalar(config, "TAPE_DEVICE", "/dev/nst0").strip()
    return text if text.strip() or not device else f"tape://{device}"


def _tape(config: Config, url: Url) -> TapeSettings | None:
    if url.scheme is not Scheme.TAPE:
        return None
    return TapeSettings(
        device=nonrewinding(str(url.path)),
        block_size=parse_block_size("TAPE_BLOCKSIZE", config.text("TAPE_BLOCKSIZE")),
        layout=TapeLayout.OBDR if "OBDR" in config.items("OUTPUT") else TapeLayout.PLAIN,
        label=config.text("USB_DEVICE_FILESYSTEM_LABEL") or "REAR-000",
        obdr_block_size=parse_block_size("OBDR_BLOCKSIZE", config.text("OBDR_BLOCKSIZE")),
    )


def check_destination(s: NetfsSettings, *, backing_up: bool, builds_iso: bool) -> None:
    """iso:// puts the archive into the rescue ISO: only mkbackup with OUTPUT=ISO builds one (builds_iso)."""
    if not s.url.scheme.in_rescue_image or not backing_up:
        return
    if not builds_iso:
        raise UserError(
            f"BACKUP_URL={s.url.text} puts the backup into the rescue ISO, which only mkbackup with OUTPUT=ISO makes",
            hint="run rearbuild mkbackup, or use BACKUP_URL=file:///dir or usb:// for mkbackuponly",
        )


def required_programs(s: NetfsSettings) -> tuple[str, ...]:
    """What the backup and the restore run, so what the host and the rescue image need."""
    return (*s.archive.programs, *s.url.scheme.programs)


def missing_programs(programs: tuple[str, ...]) -> tuple[str, ...]:
    """Those of programs this host lacks (a backup cannot start without them)."""
    return tuple(p for p in programs if shutil.which(p) is None)


# ---- backup -----------------------------------------------------------------------------------------------------


def backup_layout(captured: Layout | None, saved: Path) -> Layout | None:
    """The layout whose file systems are backed up: the one captured in this run, else the saved one."""
    if captured is not None:
        return captured
    return read_layout(saved) if saved.is_file() else None


def _same_fs(path: Path, mountpoints: tuple[str, ...]) -> str | None:
    """The layout mount point whose file system holds path (or its nearest existing parent)."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    device = probe.stat().st_dev
    for mountpoint in sorted(mountpoints, key=len, reverse=True):
        with contextlib.suppress(OSError):
            if os.path.ismount(mountpoint) and os.stat(mountpoint).st_dev == device:
                return mountpoint
    return None


def selection(s: NetfsSettings, places: Places, layout: Layout | None) -> Selection:
    extra = [str(s.url.path)] if s.url.scheme.reach is Reach.LOCAL else []
    return backup_selection(layout, include=s.include, only_include=s.only_include, exclude=s.exclude,
                            extra_excludes=extra, only_exclude=s.only_exclude,
                            exclude_mountpoints=s.exclude_mountpoints, never=places.never_backed_up)  # fmt: skip


def _kept_copy(directory: Path) -> Path:
    """Where NETFS_KEEP_OLD_BACKUP_COPY keeps the previous backup directory (ReaR's name)."""
    return directory.with_name(directory.name + ".old")


def _replace_previous(directory: Path, s: NetfsSettings) -> None:
    """NETFS_KEEP_OLD_BACKUP_COPY: the previous backup directory becomes <dir>.old (the older .old goes)."""
    if not s.keep_old or not (directory / s.archive.name).exists():
        return
    if s.chain.kind.chained:
        # ReaR too: moving the directory aside would take the chain's full backup with it
        notice("NETFS_KEEP_OLD_BACKUP_COPY does nothing with BACKUP_TYPE=%s", s.chain.kind.value)
        return
    old = _kept_copy(directory)
    if old.exists():
        shutil.rmtree(old)
    directory.rename(old)
    notice("previous backup kept in %s", old)


def _snapshot_work_file(places: Places, plan: Plan | None) -> Path | None:
    """The tar snapshot file this backup updates: a copy of its base's (a full backup starts without one)."""
    if plan is None:
        return None
    work = places.work_dir / "backup.snar"
    work.unlink(missing_ok=True)
    if plan.base is not None:
        shutil.copyfile(plan.base.snapshot, work)
    return work


def write_archive(
    s: NetfsSettings, places: Places, directory: Path, chosen: Selection, plan: Plan | None = None
) -> Path:
    """Stream the backup into directory; returns the archive. The last good archive and its checksum stay until
    the new ones are complete (backup/commit.py); the caller holds the location's lock. plan: the chain's
    archive (BACKUP_TYPE=incremental|differential), else the one archive s.archive.name."""
    archive = plan.archive.path if plan is not None else directory / s.archive.name
    commit.clear_leftovers(archive)
    commit.check_places(archive)
    _replace_previous(directory, s)
    directory.mkdir(parents=True, exist_ok=True)
    exclude_file = places.work_dir / "backup-exclude.txt"
    exclude_file.parent.mkdir(parents=True, exist_ok=True)
    exclude_file.write_text(chosen.exclude_text())
    snapshot = _snapshot_work_file(places, plan)
    options = (*s.tar_options, f"--listed-incremental={snapshot}") if snapshot is not None else s.tar_options
    steps = s.archive.write_steps(create_step(chosen.includes, exclude_file, options))
    progress = Progress("backup", used_bytes(chosen.includes))
    digest = hashlib.sha256()
    md5 = hashlib.md5(usedforsecurity=False)  # ReaR's BACKUP_INTEGRITY_CHECK file is md5sum's
    notice("backing up %s to %s%s", " ".join(chosen.includes), archive, f": {plan.describe()}" if plan else "")
    log.info("excluded: %s", " ".join(chosen.excludes))

    def to_file(chunk: bytes) -> None:
        digest.update(chunk)
        if s.integrity_md5:
            md5.update(chunk)

    def both(chunk: bytes) -> None:
        progress.add(chunk)
        to_file(chunk)

    # Junction 1 (after tar) counts the uncompressed bytes; the last one hashes what goes into the file.
    taps = {1: both} if len(steps) == 1 else {1: progress.add, len(steps): to_file}
    try:
        with open(commit.create_partial(archive), "wb") as sink:
            results = stream(steps, sink=sink, taps=taps, poll=progress.show)
            sink.flush()
            os.fsync(sink.fileno())
    except OSError as exc:
        commit.partial_of(archive).unlink(missing_ok=True)
        raise commit.location_error(archive, exc) from exc
    except BaseException:
        commit.partial_of(archive).unlink(missing_ok=True)
        raise
    progress.finish()
    if results[0].returncode == TAR_CHANGED_FILES:
        tail = " | ".join(results[0].err.strip().splitlines()[-3:])
        log.warning("tar: some files changed while they were read; the backup is complete otherwise (%s)", tail)
    sha = digest.hexdigest()
    commit.commit(archive, sha)
    try:
        if s.integrity_md5:
            atomic_write(md5_file(archive), f"{md5.hexdigest()}  {archive.name}\n".encode())
        if snapshot is not None and plan is not None:
            atomic_write(plan.archive.snapshot, snapshot.read_bytes(), mode=0o600)
    except OSError as exc:
        raise commit.location_error(archive, exc, committed=True) from exc
    notice("backup archive %s: %s, sha256 %s", archive, human_bytes(archive.stat().st_size), sha)
    return archive


def md5_file(archive: Path) -> Path:
    """ReaR's BACKUP_INTEGRITY_CHECK file (`md5sum -c` checks it in the archive's directory)."""
    return archive.with_name(archive.name + ".md5")


INCLUDE_LIST = "backup-include.txt"  # beside the archive: what it holds (ReaR keeps it in $TMP_DIR)


def _directory_record(layout: Layout | None, chosen: Selection) -> tuple[directories.DirEntry, ...]:
    included, excluded = layout_mountpoints(layout) if layout else ((), ())
    parents = directories.parents_of(chosen.includes)
    return directories.record((*directories.FHS_DIRECTORIES, *included, *excluded, *parents))


def _write_companions(archive: Path, entries: tuple[directories.DirEntry, ...], chosen: Selection) -> None:
    """The directory record and the include list beside the archive (after it: restore works without them)."""
    try:
        directories.write(entries, archive.parent / directories.FILE_NAME)
        atomic_write(archive.parent / INCLUDE_LIST, "".join(f"{p}\n" for p in chosen.includes).encode())
    except OSError as exc:
        raise commit.location_error(archive, exc, committed=True) from exc


@dataclass(frozen=True)
class Backup:
    archive: Path
    iso_files: dict[str, Path]  # ISO path -> file, for BACKUP_URL=iso:// (the output stage puts them in)


def make_backup(s: NetfsSettings, places: Places, layout: Layout | None) -> Backup:
    chosen = selection(s, places, layout)
    entries = _directory_record(layout, chosen)
    directories.write(entries, places.recovery_dir / directories.FILE_NAME)
    if s.url.scheme.reach is Reach.LOCAL and layout is not None:
        mountpoint = _same_fs(Path(s.url.path), layout_mountpoints(layout)[0])
        if mountpoint is not None:
            log.warning(
                "BACKUP_URL=%s is on the file system mounted at %s, which recovery recreates (and so empties): "
                "copy the backup elsewhere before you recover; it is excluded from the backup itself",
                s.url.text,
                mountpoint,
            )
    if s.tape is not None:
        return Backup(_backup_to_tape(s, s.tape, places, chosen), {})
    if s.url.scheme.in_rescue_image:
        directory = places.work_dir / "iso-backup" / s.url.archive_dir(Path("."), s.prefix)
        archive = write_archive(s, places, directory, chosen)
        _write_companions(archive, entries, chosen)
        return Backup(archive, _into_iso(s, archive))
    with reachable(s.url, places.mount_dir, write=True, iso_volid=s.iso_volid, options=s.mount_options) as root:
        directory = s.url.archive_dir(root, s.prefix)
        with commit.locked(directory, f"backup to BACKUP_URL={s.url.text}"):
            plan = None
            if s.chain.kind.chained:
                plan = plan_backup(directory, s.archive.file_suffix, s.chain, datetime.datetime.now())
            archive = write_archive(s, places, directory, chosen, plan)
            _write_companions(archive, entries, chosen)
    return Backup(archive, {})


def _backup_to_tape(s: NetfsSettings, tape: TapeSettings, places: Places, chosen: Selection) -> Path:
    """tar | [compress] | [encrypt] | dd to the tape file the layout puts the backup in (ReaR: tar ... | dd
    of=$TAPE_DEVICE bs=1M), then the trailer with its length and sha256. An OBDR tape must carry the label: the
    backup follows the rescue ISO on it."""
    drive = Drive(tape.device)
    drive.check_ready(write=True)
    if tape.layout is TapeLayout.OBDR:
        drive.check_label(tape.label)
    exclude_file = places.work_dir / "backup-exclude.txt"
    exclude_file.parent.mkdir(parents=True, exist_ok=True)
    exclude_file.write_text(chosen.exclude_text())
    drive.position(tape.layout.backup_file, tape.block_size)
    archive_steps = s.archive.write_steps(create_step(chosen.includes, exclude_file, s.tar_options))
    progress = Progress("backup", used_bytes(chosen.includes))
    digest = hashlib.sha256()
    size = 0

    def hashed(chunk: bytes) -> None:
        nonlocal size
        size += len(chunk)
        digest.update(chunk)

    def both(chunk: bytes) -> None:
        progress.add(chunk)
        hashed(chunk)

    # junction 1 (after tar) counts the uncompressed bytes; the one before dd is what goes onto the tape
    last = len(archive_steps)
    taps = {1: both} if last == 1 else {1: progress.add, last: hashed}
    notice("backing up %s to tape %s, file %d", " ".join(chosen.includes), tape.device, tape.layout.backup_file)
    results = stream((*archive_steps, drive.write_step(tape.block_size)), taps=taps, poll=progress.show)
    progress.finish()
    if results[0].returncode == TAR_CHANGED_FILES:
        log.warning("tar: some files changed while they were read; the backup is complete otherwise")
    drive.write_trailer(Trailer(size, digest.hexdigest()), tape.block_size)
    drive.mt("rewind")  # ReaR: backup/OBDR/default/510_rewind_tape_drive.sh
    notice("backup on tape %s file %d: %s, sha256 %s", tape.device, tape.layout.backup_file, human_bytes(size),
           digest.hexdigest())  # fmt: skip
    return Path(tape.device)


def _into_iso(s: NetfsSettings, archive: Path) -> dict[str, Path]:
    limit = s.iso_file_limit
    size = archive.stat().st_size
    if size >= limit:
        raise UserError(
            f"the backup archive ({human_bytes(size)}) is larger than ISO_FILE_SIZE_LIMIT ({human_bytes(limit)}), "
            "the largest file an ISO 9660 image holds here",
            hint="use BACKUP_URL=usb:// or file://, exclude more (BACKUP_PROG_EXCLUDE), or BACKUP_PROG_COMPRESS=zstd",
        )
    inside = "/" + str(s.url.path).strip("/")
    names = (s.archive.name, s.archive.checksum_name, directories.FILE_NAME, INCLUDE_LIST)
    return {f"{inside.rstrip('/')}/{name}": archive.parent / name for name in names}


# ---- verify and restore -----------------------------------------------------------------------------------------


@contextlib.contextmanager
def located(s: NetfsSettings, mount_dir: Path) -> Iterator[Path]:
    """The directory holding the archive, reachable (mounted read-only at mount_dir) for the block."""
    with reachable(s.url, mount_dir, write=False, iso_volid=s.iso_volid, options=s.mount_options) as root:
        yield s.url.archive_dir(root, s.prefix)


def _find_archives(directory: Path, s: NetfsSettings) -> tuple[Path, ...]:
    """What a restore extracts, in order: the one archive, or the chain of BACKUP_TYPE=incremental|differential
    (ReaR too restores backup.tar.gz when no chain is there)."""
    if s.chain.kind.chained:
        chain = restore_chain(directory, s.archive.file_suffix, s.chain.kind)
        if chain:
            notice("restoring the %s chain %s", s.chain.kind.value, " ".join(a.path.name for a in chain))
            return tuple(a.path for a in chain)
    archive = directory / s.archive.name
    if archive.is_file():
        return (archive,)
    others = sorted(p.name for p in directory.glob(f"{s.archive.base}.tar*")) if directory.is_dir() else []
    kept = _kept_copy(directory) / s.archive.name
    if kept.is_file():
        # NETFS_KEEP_OLD_BACKUP_COPY moved the previous backup aside and the run after it did not complete
        raise UserError(
            f"no backup archive {archive}, but the previous backup is kept in {kept}",
            hint=f"NETFS_KEEP_OLD_BACKUP_COPY kept it when a later backup began; to restore it, move {directory} "
            f"out of the way, then mv {kept.parent} {directory} and run again",
        )
    if s.chain.kind.chained:
        archive = directory / f"YYYY-MM-DD-HHMM-F{s.archive.file_suffix}"
    raise UserError(
        f"no backup archive {archive} (BACKUP_URL={s.url.text}, NETFS_PREFIX={s.prefix})",
        hint=(
            f"found {', '.join(others)}: check BACKUP_PROG_COMPRESS" if others else "check BACKUP_URL and NETFS_PREFIX"
        )
        + (", and mount the file system holding it" if s.url.scheme.reach is Reach.LOCAL else ""),
    )


def probe_head(archive: Path, steps: tuple[Step, ...]) -> None:
    """Decrypt and decompress the first MiB and look for a tar header: a wrong key or compression setting is
    found here, before the disks are touched (openssl alone notices a wrong key only at the very end)."""
    with open(archive, "rb") as f:
        data = f.read(_PROBE_BYTES)
    _probe(data, steps, str(archive))


def _probe(data: bytes, steps: tuple[Step, ...], archive: str) -> None:
    for step in steps:
        # A cut stream makes every decoder complain at its end; what it decoded before is what counts.
        data = run(step.argv, input=data, env=step.env, check=False, timeout=120).stdout
    if data[_TAR_MAGIC_OFFSET : _TAR_MAGIC_OFFSET + 5] != b"ustar":
        what = "the key (BACKUP_PROG_CRYPT_KEY) is wrong or " if any(st.name == "openssl" for st in steps) else ""
        raise UserError(
            f"{archive} does not read as a tar archive: {what}it was not written with this compression "
            f"({_describe(steps)})",
            hint="nothing was written; check BACKUP_PROG_CRYPT_KEY and BACKUP_PROG_COMPRESS for this archive",
        )


def _describe(steps: tuple[Step, ...]) -> str:
    return " | ".join(" ".join(st.argv[:1] + st.argv[-1:]) for st in steps) or "none"


def verify_backup(s: NetfsSettings, mount_dir: Path) -> Path:
    """The archive is reachable, intact and readable with the configured key and compression."""
    if s.tape is not None:
        return _verify_tape(s, s.tape)
    with located(s, mount_dir) as directory:
        found = _find_archives(directory, s)
        for archive in found:
            _verify_one(archive, s)
    return found[-1]


def _verify_one(archive: Path, s: NetfsSettings) -> None:
    progress = Progress("checking the backup's sha256", archive.stat().st_size)
    md5 = hashlib.md5(usedforsecurity=False)

    def observe(chunk: bytes) -> None:
        progress.add(chunk)
        progress.show()
        if s.integrity_md5:
            md5.update(chunk)

    commit.verify(archive, observe)
    progress.finish()
    if s.integrity_md5:
        _check_md5(archive, md5.hexdigest())
    probe_head(archive, s.archive.read_steps())
    notice("backup archive %s is intact", archive)


def _check_md5(archive: Path, actual: str) -> None:
    """BACKUP_INTEGRITY_CHECK: the archive's .md5 (ReaR's, or rearbuild's) must be there and match."""
    record = md5_file(archive)
    expected = record.read_text().split()[0] if record.is_file() and record.read_text().strip() else ""
    if expected != actual:
        why = "does not match it" if expected else "is missing"
        raise UserError(
            f"integrity check failed: {record} {why} (BACKUP_INTEGRITY_CHECK is enabled); nothing was written",
            hint="restore from another copy of the backup, or unset BACKUP_INTEGRITY_CHECK for a backup made "
            "without it (its sha256 is still checked)",
        )


def _tape_trailer(drive: Drive, tape: TapeSettings) -> Trailer:
    trailer = drive.read_trailer(tape.layout.backup_file, tape.block_size)
    if trailer is None:
        raise UserError(
            f"no complete rearbuild backup on tape {tape.device} (file {tape.layout.backup_file}): the backup did "
            "not finish, or the tape holds something else",
            hint="use the tape of the last successful mkbackup; nothing was written",
        )
    return trailer


def _verify_tape(s: NetfsSettings, tape: TapeSettings) -> Path:
    """The drive is ready, an OBDR tape carries the label, the backup finished (its trailer is there) and the
    archive's first MiB reads as tar with the configured key and compression. Its sha256 is checked while it is
    restored (reading a whole tape twice would double the recovery)."""
    drive = Drive(tape.device)
    drive.check_ready(write=False)
    if tape.layout is TapeLayout.OBDR:
        drive.check_label(tape.label)
    trailer = _tape_trailer(drive, tape)
    drive.position(tape.layout.backup_file, tape.block_size)
    head = drive.read_head(min(_PROBE_BYTES, trailer.size), tape.block_size)
    drive.mt("rewind")
    where = f"tape {tape.device} file {tape.layout.backup_file}"
    _probe(head, s.archive.read_steps(), where)
    notice("backup archive on %s (%s) is readable", where, human_bytes(trailer.size))
    return Path(tape.device)


def _restore_from_tape(s: NetfsSettings, tape: TapeSettings, target: Path) -> None:
    """dd from the backup's tape file | [decrypt] | [decompress] | tar -x (ReaR: dd if=$TAPE_DEVICE bs=1M | tar),
    the archive's sha256 compared with the trailer's at the end."""
    drive = Drive(tape.device)
    trailer = _tape_trailer(drive, tape)
    drive.position(tape.layout.backup_file, tape.block_size)
    reading = drive.read_steps(tape.block_size, trailer.size)
    steps = (*reading, *s.archive.read_steps(), extract_step(target, s.tar_options))
    progress = Progress("restore", trailer.size)
    digest = hashlib.sha256()

    def observe(chunk: bytes) -> None:
        progress.add(chunk)
        digest.update(chunk)

    notice("restoring tape %s file %d into %s", tape.device, tape.layout.backup_file, target)
    results = stream(steps, taps={len(reading): observe}, poll=progress.show)
    progress.finish()
    drive.mt("rewind")
    problems = results[-1].err.strip().splitlines()
    if problems:
        log.warning("tar reported %d problems while restoring, e.g. %s", len(problems), problems[0])
    if digest.hexdigest() != trailer.sha256:
        raise UserError(
            f"the archive read from tape {tape.device} differs from the one written (sha256 {digest.hexdigest()}, "
            f"written {trailer.sha256}): the restored files in {target} may be damaged",
            hint="clean the drive and restore again, or use another copy of the backup",
        )
    notice("the archive read from tape matches its sha256 %s", trailer.sha256)


@dataclass(frozen=True)
class Restored:
    target: Path
    directories: tuple[directories.DirEntry, ...]  # the directory record: what to recreate if missing
    includes: tuple[str, ...] | None  # the paths the archive held, when its include list was found


def restore_backup(s: NetfsSettings, options: RecoverOptions, *, mount_dir: Path, recovery_dir: Path) -> Restored:
    """Restore the archive into the target (/mnt/local, or the --demo directory)."""
    target = restore_target(options)
    entries: tuple[directories.DirEntry, ...] = ()
    includes: tuple[str, ...] | None = None
    if s.tape is not None:
        _restore_from_tape(s, s.tape, target)
        record = recovery_dir / directories.FILE_NAME
        return Restored(target, directories.read(record) if record.is_file() else (), None)
    with located(s, mount_dir) as directory:
        tar_options = (*s.tar_options, RESTORE_OPTION) if s.chain.kind.chained else s.tar_options
        for archive in _find_archives(directory, s):
            _extract(archive, (*s.archive.read_steps(), extract_step(target, tar_options)), target)
        record = directory / directories.FILE_NAME
        if not record.is_file():
            record = recovery_dir / directories.FILE_NAME
        if record.is_file():
            entries = directories.read(record)
        listed = directory / INCLUDE_LIST
        if listed.is_file():
            includes = tuple(listed.read_text().splitlines())
    return Restored(target, entries, includes)


def _extract(archive: Path, steps: tuple[Step, ...], target: Path) -> None:
    progress = Progress("restore", archive.stat().st_size)
    notice("restoring %s into %s", archive, target)
    with open(archive, "rb") as source:
        results = stream(steps, source=source, taps={0: progress.add}, poll=progress.show)
    progress.finish()
    problems = results[-1].err.strip().splitlines()
    if problems:
        log.warning("tar reported %d problems while restoring, e.g. %s", len(problems), problems[0])
        log.info("tar's messages:\n%s", "\n".join(problems))


def recreate_directories(
    entries: tuple[directories.DirEntry, ...], target: Path, includes: tuple[str, ...] | None
) -> None:
    """The recorded mount points and top-level directories the archive did not contain, with their modes."""
    if not entries:
        return
    changed = directories.recreate_missing(entries, target, includes)
    if changed:
        notice("recreated %d directories the backup does not hold: %s", len(changed), " ".join(changed))
