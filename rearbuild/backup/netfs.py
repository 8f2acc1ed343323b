"""BACKUP=NETFS: a tar archive of the system at BACKUP_URL, and its restore (study §6 NETFS, §5.2 item 5).

    backup    tar -c (the layout's mount tree) | [compress] | [openssl enc] -> <dir>/backup.tar.gz.partial,
              renamed to backup.tar.gz when complete, backup.tar.gz.sha256 and the directory record beside it
    verify    the archive is there, its sha256 matches, and its first megabyte decrypts and decompresses to a
              tar header (a wrong key is found here, before any disk is touched)
    restore   backup.tar.gz -> [openssl enc -d] | [decompress] | tar -x into the target (/mnt/local or --demo DIR),
              then the recorded mount points and top-level directories that are missing

The recipes in recipes/{prep,backup,verify,restore}/NETFS/ are thin calls of the functions here.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import logging
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rearbuild.backup import checksum, directories
from rearbuild.backup.archive import (
    TAR_CHANGED_FILES,
    ArchiveFormat,
    Encryption,
    compression_from_tar_options,
    create_step,
    extract_step,
    parse_compression,
)
from rearbuild.backup.location import BackupUrl, Scheme, reachable
from rearbuild.backup.pipeline import Step, stream
from rearbuild.backup.progress import Progress, human_bytes
from rearbuild.backup.selection import Selection, layout_mountpoints, select, used_bytes
from rearbuild.compression import Codec
from rearbuild.context import Context
from rearbuild.errors import UserError
from rearbuild.layout.disklayout import read_layout
from rearbuild.layout.model import Layout
from rearbuild.log import notice
from rearbuild.recover.options import recover_options
from rearbuild.recover.recreate import stopped
from rearbuild.run import run
from rearbuild.workflow import Workflow

log = logging.getLogger("rearbuild.backup")

# ctx.results keys this module sets.
RESULT_ARCHIVE = "netfs_archive"  # Path of the archive written (backup) or checked (verify)
RESULT_DIRECTORIES = "netfs_directories"  # tuple[DirEntry, ...] to recreate after the restore
RESULT_INCLUDES = "netfs_includes"  # tuple[str, ...]: the paths the restored archive held
_RESULT_KEY = "netfs_crypt_key"  # the key typed in by the operator during recovery

_PROBE_BYTES = 1 << 20  # bzip2's largest block is 900 kB (bzip2(1)): one whole block fits in a MiB
_TAR_MAGIC_OFFSET = 257  # POSIX ustar header: magic "ustar" at byte 257 (pax extended headers have it too)


@dataclass(frozen=True)
class NetfsSettings:
    url: BackupUrl
    prefix: str
    archive: ArchiveFormat
    tar_options: tuple[str, ...]
    mount_options: str
    iso_volid: str
    keep_old: bool


def _mountpoint(ctx: Context, s: NetfsSettings) -> Path:
    """$BUILD_DIR/outputfs, where usb:// and iso:// are mounted for the run (ReaR's name)."""
    return ctx.tmp_dir.parent / "outputfs"


def _compression(ctx: Context) -> tuple[Codec, str]:
    word = ctx.text("BACKUP_PROG_COMPRESS").strip()
    if word:
        chosen = parse_compression(word)
        return chosen, chosen.suffix
    return compression_from_tar_options(ctx.items("BACKUP_PROG_COMPRESS_OPTIONS")), ctx.text(
        "BACKUP_PROG_COMPRESS_SUFFIX"
    )


def _crypt_key(ctx: Context, *, ask: bool) -> str:
    key = ctx.text("BACKUP_PROG_CRYPT_KEY") or str(ctx.results.get(_RESULT_KEY, ""))
    if key:
        return key
    if not ask:
        raise UserError(
            "BACKUP_PROG_CRYPT_ENABLED is set but BACKUP_PROG_CRYPT_KEY is empty",
            hint="set the key in a file only root can read and pass it with -C FILE, or in local.conf",
        )
    if ctx.options.non_interactive or not sys.stdin.isatty():
        raise UserError(
            "the backup is encrypted and no key was given (the rescue image never contains it)",
            hint="run again with -C FILE where FILE sets BACKUP_PROG_CRYPT_KEY=..., or interactively to type it",
        )
    key = getpass.getpass("Key of the encrypted backup (BACKUP_PROG_CRYPT_KEY): ")
    if not key:
        raise UserError("no key typed in: the encrypted backup cannot be restored")
    ctx.results[_RESULT_KEY] = key
    return key


def settings(ctx: Context, *, ask_key: bool = False, need_key: bool = True) -> NetfsSettings:
    """The NETFS configuration, checked. ask_key: prompt for a missing key (recovery); need_key: False in
    workflows that only prepare the rescue image."""
    url = BackupUrl.parse(ctx.text("BACKUP_URL"))
    program = ctx.text("BACKUP_PROG").strip()
    if os.path.basename(program) != "tar":
        raise UserError(f"BACKUP_PROG={program!r}: rearbuild's NETFS supports only tar", hint="remove the setting")
    if ctx.text("BACKUP_TYPE").strip() not in ("", "full"):
        raise UserError(
            f"BACKUP_TYPE={ctx.text('BACKUP_TYPE')!r}: incremental and differential backups are not supported yet",
            hint="remove BACKUP_TYPE for a full backup each time",
        )
    compression, suffix = _compression(ctx)
    encryption = None
    if ctx.flag("BACKUP_PROG_CRYPT_ENABLED"):
        key = _crypt_key(ctx, ask=ask_key) if need_key else "-"
        encryption = Encryption(key)
    archive = ArchiveFormat(
        compression,
        suffix,
        encryption,
        base=ctx.text("BACKUP_PROG_ARCHIVE") or "backup",
        tar_suffix=ctx.text("BACKUP_PROG_SUFFIX"),
    )
    return NetfsSettings(
        url=url,
        prefix=ctx.text("NETFS_PREFIX"),
        archive=archive,
        tar_options=ctx.items("BACKUP_PROG_OPTIONS"),
        mount_options=ctx.text("BACKUP_OPTIONS"),
        iso_volid=ctx.text("ISO_VOLID"),
        keep_old=ctx.flag("NETFS_KEEP_OLD_BACKUP_COPY"),
    )


def check_workflow(ctx: Context, s: NetfsSettings) -> None:
    """iso:// puts the archive into the rescue ISO: only mkbackup with OUTPUT=ISO builds one."""
    workflow = Workflow.parse(ctx.options.workflow)
    if not s.url.scheme.in_rescue_image or workflow not in (Workflow.MKBACKUP, Workflow.MKBACKUPONLY):
        return
    if workflow is Workflow.MKBACKUPONLY or ctx.text("OUTPUT") != "ISO":
        raise UserError(
            f"BACKUP_URL={s.url.text} puts the backup into the rescue ISO, which only mkbackup with OUTPUT=ISO makes",
            hint="run rearbuild mkbackup, or use BACKUP_URL=file:///dir or usb:// for mkbackuponly",
        )


def required_programs(s: NetfsSettings) -> tuple[str, ...]:
    """What the backup and the restore run, so what the host and the rescue image need."""
    extra = ("mount", "umount", "blkid") if s.url.scheme.mounts_device else ()
    return (*s.archive.programs, *extra)


# ---- backup -----------------------------------------------------------------------------------------------------


def _layout(ctx: Context) -> Layout | None:
    found = ctx.results.get("layout")
    if isinstance(found, Layout):
        return found
    saved = Path(ctx.text("DISKLAYOUT_FILE"))
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


def selection(ctx: Context, s: NetfsSettings, layout: Layout | None) -> Selection:
    extra = [str(ctx.build_dir)] if ctx.build_dir else []
    if s.url.scheme is Scheme.FILE:
        extra.append(str(s.url.path))
    chosen = select(
        layout,
        include=ctx.items("BACKUP_PROG_INCLUDE"),
        only_include=ctx.flag("BACKUP_ONLY_INCLUDE"),
        exclude=ctx.items("BACKUP_PROG_EXCLUDE"),
        extra_excludes=extra,
        only_exclude=ctx.flag("BACKUP_ONLY_EXCLUDE"),
    )
    for path in chosen.missing:
        log.warning("not backed up: %s does not exist", path)
    if not chosen.includes:
        raise UserError(
            "nothing to back up: no mounted file system of the layout and no existing BACKUP_PROG_INCLUDE path",
            hint="check BACKUP_PROG_INCLUDE and BACKUP_ONLY_INCLUDE, or run savelayout first",
        )
    return chosen


def _replace_previous(directory: Path, s: NetfsSettings) -> None:
    """NETFS_KEEP_OLD_BACKUP_COPY: the previous backup directory becomes <dir>.old (the older .old goes)."""
    if not s.keep_old or not (directory / s.archive.name).exists():
        return
    old = directory.with_name(directory.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    directory.rename(old)
    notice("previous backup kept in %s", old)


def write_archive(ctx: Context, s: NetfsSettings, directory: Path, chosen: Selection) -> Path:
    """Stream the backup into directory; returns the archive. The old archive stays until the new one is
    complete (written as .partial and renamed)."""
    _replace_previous(directory, s)
    directory.mkdir(parents=True, exist_ok=True)
    archive = directory / s.archive.name
    partial = archive.with_name(archive.name + ".partial")
    exclude_file = ctx.tmp_dir / "backup-exclude.txt"
    exclude_file.parent.mkdir(parents=True, exist_ok=True)
    exclude_file.write_text(chosen.exclude_text())
    steps = s.archive.write_steps(create_step(chosen.includes, exclude_file, s.tar_options))
    progress = Progress("backup", used_bytes(chosen.includes))
    digest = hashlib.sha256()
    notice("backing up %s to %s", " ".join(chosen.includes), archive)
    log.info("excluded: %s", " ".join(chosen.excludes))

    def to_file(chunk: bytes) -> None:
        digest.update(chunk)

    def both(chunk: bytes) -> None:
        progress.add(chunk)
        digest.update(chunk)

    # Junction 1 (after tar) counts the uncompressed bytes; the last one hashes what goes into the file.
    taps = {1: both} if len(steps) == 1 else {1: progress.add, len(steps): to_file}
    try:
        with open(partial, "wb") as sink:
            results = stream(steps, sink=sink, taps=taps, poll=progress.show)
            sink.flush()
            os.fsync(sink.fileno())
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    progress.finish()
    if results[0].returncode == TAR_CHANGED_FILES:
        tail = " | ".join(results[0].err.strip().splitlines()[-3:])
        log.warning("tar: some files changed while they were read; the backup is complete otherwise (%s)", tail)
    partial.replace(archive)
    sha = digest.hexdigest()
    (directory / s.archive.checksum_name).write_text(checksum.format_line(sha, archive.name))
    notice("backup archive %s: %s, sha256 %s", archive, human_bytes(archive.stat().st_size), sha)
    return archive


INCLUDE_LIST = "backup-include.txt"  # beside the archive: what it holds (ReaR keeps it in $TMP_DIR)


def _directory_record(layout: Layout | None, chosen: Selection) -> tuple[directories.DirEntry, ...]:
    included, excluded = layout_mountpoints(layout) if layout else ((), ())
    parents = directories.parents_of(chosen.includes)
    return directories.record((*directories.FHS_DIRECTORIES, *included, *excluded, *parents))


def _write_companions(directory: Path, entries: tuple[directories.DirEntry, ...], chosen: Selection) -> None:
    directories.write(entries, directory / directories.FILE_NAME)
    (directory / INCLUDE_LIST).write_text("".join(f"{p}\n" for p in chosen.includes))


def make_backup(ctx: Context) -> Path:
    s = settings(ctx)
    check_workflow(ctx, s)
    layout = _layout(ctx)
    chosen = selection(ctx, s, layout)
    entries = _directory_record(layout, chosen)
    directories.write(entries, ctx.paths.recovery_dir / directories.FILE_NAME)
    if s.url.scheme is Scheme.FILE and layout is not None:
        mountpoint = _same_fs(Path(s.url.path), layout_mountpoints(layout)[0])
        if mountpoint is not None:
            log.warning(
                "BACKUP_URL=%s is on the file system mounted at %s, which recovery recreates (and so empties): "
                "copy the backup elsewhere before you recover; it is excluded from the backup itself",
                s.url.text,
                mountpoint,
            )
    if s.url.scheme is Scheme.ISO:
        directory = ctx.tmp_dir / "iso-backup" / s.url.archive_dir(Path("."), s.prefix)
        archive = write_archive(ctx, s, directory, chosen)
        _write_companions(directory, entries, chosen)
        _into_iso(ctx, s, archive)
    else:
        with reachable(s.url, _mountpoint(ctx, s), write=True, iso_volid=s.iso_volid, options=s.mount_options) as root:
            directory = s.url.archive_dir(root, s.prefix)
            archive = write_archive(ctx, s, directory, chosen)
            _write_companions(directory, entries, chosen)
    ctx.results[RESULT_ARCHIVE] = archive
    return archive


def _into_iso(ctx: Context, s: NetfsSettings, archive: Path) -> None:
    limit = ctx.number("ISO_FILE_SIZE_LIMIT")
    size = archive.stat().st_size
    if size >= limit:
        raise UserError(
            f"the backup archive ({human_bytes(size)}) is larger than ISO_FILE_SIZE_LIMIT ({human_bytes(limit)}), "
            "the largest file an ISO 9660 image holds here",
            hint="use BACKUP_URL=usb:// or file://, exclude more (BACKUP_PROG_EXCLUDE), or BACKUP_PROG_COMPRESS=zstd",
        )
    inside = "/" + str(s.url.path).strip("/")
    files = dict(ctx.results.get("iso_files", {}))
    for name in (s.archive.name, s.archive.checksum_name, directories.FILE_NAME, INCLUDE_LIST):
        files[f"{inside.rstrip('/')}/{name}"] = archive.parent / name
    ctx.results["iso_files"] = files


# ---- verify and restore -----------------------------------------------------------------------------------------


@contextlib.contextmanager
def located(ctx: Context, s: NetfsSettings) -> Iterator[Path]:
    """The directory holding the archive, reachable (mounted read-only) for the block."""
    with reachable(s.url, _mountpoint(ctx, s), write=False, iso_volid=s.iso_volid, options=s.mount_options) as root:
        yield s.url.archive_dir(root, s.prefix)


def _find_archive(directory: Path, s: NetfsSettings) -> Path:
    archive = directory / s.archive.name
    if archive.is_file():
        return archive
    others = sorted(p.name for p in directory.glob(f"{s.archive.base}.tar*")) if directory.is_dir() else []
    raise UserError(
        f"no backup archive {archive} (BACKUP_URL={s.url.text}, NETFS_PREFIX={s.prefix})",
        hint=(
            f"found {', '.join(others)}: check BACKUP_PROG_COMPRESS" if others else "check BACKUP_URL and NETFS_PREFIX"
        )
        + (", and mount the file system holding it" if s.url.scheme is Scheme.FILE else ""),
    )


def probe_head(archive: Path, steps: tuple[Step, ...]) -> None:
    """Decrypt and decompress the first MiB and look for a tar header: a wrong key or compression setting is
    found here, before the disks are touched (openssl alone notices a wrong key only at the very end)."""
    with open(archive, "rb") as f:
        data = f.read(_PROBE_BYTES)
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


def verify_backup(ctx: Context) -> Path:
    """The archive is reachable, intact and readable with the configured key and compression."""
    s = settings(ctx, ask_key=True)
    with located(ctx, s) as directory:
        archive = _find_archive(directory, s)
        progress = Progress("checking the backup's sha256", archive.stat().st_size)

        def observe(chunk: bytes) -> None:
            progress.add(chunk)
            progress.show()

        checksum.verify(archive, observe)
        progress.finish()
        probe_head(archive, s.archive.read_steps())
    ctx.results[RESULT_ARCHIVE] = archive
    notice("backup archive %s is intact", archive)
    return archive


def _target(ctx: Context) -> Path:
    options = recover_options(ctx)
    target = options.target_root
    if options.demo:
        target.mkdir(parents=True, exist_ok=True)
        return target
    if not os.path.ismount(target):
        raise UserError(
            f"nothing is mounted at {target}: the restore writes into the recreated file systems mounted there",
            hint="run rearbuild recover (which recreates and mounts them), mount them yourself for restoreonly, "
            "or use --demo DIR",
        )
    return target


def restore_backup(ctx: Context) -> Path | None:
    """Restore the archive into the target; returns the target (None when only the plan is shown)."""
    options = recover_options(ctx)
    s = settings(ctx, ask_key=True)
    if options.show_plan or stopped(ctx):
        notice("restore: would extract %s from %s into %s", s.archive.name, s.url.text, options.target_root)
        return None
    target = _target(ctx)
    with located(ctx, s) as directory:
        archive = _find_archive(directory, s)
        steps = (*s.archive.read_steps(), extract_step(target, s.tar_options))
        progress = Progress("restore", archive.stat().st_size)
        notice("restoring %s into %s", archive, target)
        with open(archive, "rb") as source:
            results = stream(steps, source=source, taps={0: progress.add}, poll=progress.show)
        progress.finish()
        problems = results[-1].err.strip().splitlines()
        if problems:
            log.warning("tar reported %d problems while restoring, e.g. %s", len(problems), problems[0])
            log.info("tar's messages:\n%s", "\n".join(problems))
        record = directory / directories.FILE_NAME
        if not record.is_file():
            record = ctx.paths.recovery_dir / directories.FILE_NAME
        if record.is_file():
            ctx.results[RESULT_DIRECTORIES] = directories.read(record)
        includes = directory / INCLUDE_LIST
        if includes.is_file():
            ctx.results[RESULT_INCLUDES] = tuple(includes.read_text().splitlines())
    return target


def recreate_directories(ctx: Context) -> None:
    entries = ctx.results.get(RESULT_DIRECTORIES)
    options = recover_options(ctx)
    if not entries or options.show_plan or stopped(ctx):
        return
    changed = directories.recreate_missing(entries, options.target_root, ctx.results.get(RESULT_INCLUDES))
    if changed:
        notice("recreated %d directories the backup does not hold: %s", len(changed), " ".join(changed))
