"""BACKUP=TSM: IBM Storage Protect (formerly Tivoli Storage Manager) restores the system; its client `dsmc` is
carried in the rescue image (ReaR 2.7 prep/TSM, verify/TSM, restore/TSM, output/TSM; study §6 TSM).

    prep      dsmc must be installed; COPY_AS_IS_TSM (/etc/adsm, /opt/tivoli/tsm/client, /usr/local/ibm/gsk8*) and
              the targets of the dsm.sys/dsm.opt symlinks go into the image
    mkbackup  dsmc incremental -verbose -tapeprompt=no TSM_DSMC_BACKUP_OPTIONS... <the layout's mount points>
    output    TSM_RESULT_SAVE=y: the rescue image files are copied to TSM_RESULT_FILE_PATH and saved with
              `dsmc incremental FILES` (or `dsmc archive -archmc=CLASS FILES`); exit 0 or 8 is success
    verify    `dsmc query session` reaches the server; `dsmc query filespace -date=2 -time=1 -scrollprompt=no`
              lists the node's file spaces; those that are mount points of the layout are restored
    restore   per file space: dsmc restore FS/ TARGET/FS/ -subdir=yes -replace=all -tapeprompt=no
              -errorlogname=LOG TSM_DSMC_RESTORE_OPTIONS...; exit 4 and 8 are warnings, anything else stops

The client runs with LC_ALL=LANG_RECOVER and LD_LIBRARY_PATH=TSM_LD_LIBRARY_PATH plus /usr/local/ibm/gsk*/lib*.
Not run against a real TSM server: verified with a stand-in dsmc that prints the documented output.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from rearbuild.backup.vendor import Payload, client_env
from rearbuild.config.model import Config
from rearbuild.errors import UserError
from rearbuild.log import notice
from rearbuild.run import run

log = logging.getLogger("rearbuild.backup")

PRODUCT = "IBM Storage Protect (TSM) backup-archive"
# dsmc's return codes (IBM Storage Protect client documentation, "Client return codes"): 0 success, 4 some files
# were skipped (not found, excluded), 8 warnings, 12 errors.
DSMC_SKIPPED = 4
DSMC_WARNINGS = 8
_OPTION_FILES = ("/opt/tivoli/tsm/client/ba/bin/dsm.sys", "/opt/tivoli/tsm/client/ba/bin/dsm.opt")
# A file space row of `dsmc query filespace`: its number, the date, the time, the type, then the name (which may
# contain blanks; ReaR takes the last word).
_FILESPACE_ROW = re.compile(r"^\s*(\d+)\s+\S+\s+\S+\s+\S+\s+(/.*?)\s*$")


@dataclass(frozen=True)
class TsmSettings:
    payload: Payload
    restore_options: tuple[str, ...] = ()  # TSM_DSMC_RESTORE_OPTIONS
    lang: str = "C"  # LANG_RECOVER: dsmc's messages are parsed
    result_save: bool = True  # TSM_RESULT_SAVE
    result_path: str = "/opt/tivoli/tsm/rear"  # TSM_RESULT_FILE_PATH
    archive_class: str = ""  # TSM_ARCHIVE_MGMT_CLASS
    backup_options: tuple[str, ...] = ()  # TSM_DSMC_BACKUP_OPTIONS

    def env(self) -> dict[str, str]:
        return client_env(self.payload.ld_library_path, {"LC_ALL": self.lang})


def settings(config: Config) -> TsmSettings:
    gsk = [d for d in sorted(glob.glob("/usr/local/ibm/gsk*/lib*")) if os.path.isdir(d)]
    libpath = ":".join(p for p in (config.text("TSM_LD_LIBRARY_PATH"), *gsk) if p)
    linked = [os.path.realpath(p) for p in _OPTION_FILES if os.path.islink(p)]
    programs = config.items("PROGS_TSM")
    return TsmSettings(
        payload=Payload(
            method="TSM",
            product=PRODUCT,
            programs=programs,
            files=(*config.items("COPY_AS_IS_TSM"), *linked),
            exclude=config.items("COPY_AS_IS_EXCLUDE_TSM"),
            required=programs[:1] or ("dsmc",),
            ld_library_path=libpath,
        ),
        restore_options=config.items("TSM_DSMC_RESTORE_OPTIONS"),
        lang=config.text("LANG_RECOVER") or "C",
        result_save=config.flag("TSM_RESULT_SAVE"),
        result_path=config.text("TSM_RESULT_FILE_PATH"),
        archive_class=config.text("TSM_ARCHIVE_MGMT_CLASS"),
        backup_options=config.items("TSM_DSMC_BACKUP_OPTIONS"),
    )


def backup(s: TsmSettings, includes: tuple[str, ...], log_file: Path) -> None:
    """mkbackup: `dsmc incremental -verbose -tapeprompt=no OPTIONS... MOUNTPOINTS...` (ReaR's
    backup/TSM/default/500_make_TSM_backup.sh); 4 and 8 are warnings, anything else fails."""
    if not includes:
        raise UserError("nothing to back up with dsmc: the layout has no mounted file system")
    argv = ("dsmc", "incremental", "-verbose", "-tapeprompt=no", *s.backup_options, *includes)
    notice("backing up %s with dsmc incremental (log: %s)", " ".join(includes), log_file)
    result = run(argv, env=s.env(), check=False)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.write_text(result.out + result.err)
    if result.returncode in (DSMC_SKIPPED, DSMC_WARNINGS):
        log.warning("dsmc incremental ended with warnings (exit %d): see %s", result.returncode, log_file)
    elif result.returncode != 0:
        raise UserError(
            f"dsmc incremental failed (exit {result.returncode}): the TSM backup is incomplete",
            hint=f"see {log_file} and the TSM error log (dsmerror.log)",
        )


def save_results(s: TsmSettings, files: list[Path], work_dir: Path) -> tuple[Path, ...]:
    """TSM_RESULT_SAVE: the rescue image's files copied to TSM_RESULT_FILE_PATH (the run's scratch directory when
    it is empty) and saved to the server. Returns the paths dsmc saved."""
    if not s.result_save or not files:
        return ()
    where = Path(s.result_path) if s.result_path else work_dir
    where.mkdir(parents=True, exist_ok=True)
    saved = []
    for f in files:
        if where != f.parent:
            shutil.copy2(f, where / f.name)
        saved.append(where / f.name)
    verb = ("archive", f"-archmc={s.archive_class}") if s.archive_class else ("incremental",)
    result = run(["dsmc", *verb, *map(str, saved)], env=s.env(), check=False)
    if result.returncode not in (0, DSMC_WARNINGS):
        raise UserError(
            f"dsmc {verb[0]} could not save the rescue image to TSM (exit {result.returncode})",
            hint="check `dsmc query session`, or set TSM_RESULT_SAVE=n to keep the image only where OUTPUT_URL says",
        )
    notice("saved %s with dsmc %s", " ".join(p.name for p in saved), verb[0])
    return tuple(saved)


def check_session(s: TsmSettings) -> None:
    """Before any disk is touched: the server answers."""
    result = run(["dsmc", "query", "session"], env=s.env(), check=False)
    if result.returncode != 0:
        raise UserError(
            f"dsmc query session failed (exit {result.returncode}): the TSM server cannot be reached; "
            "nothing was written",
            hint="check the network and TCPSERVERADDRESS in dsm.sys, then run recover again",
        )


def filespaces(s: TsmSettings) -> dict[int, str]:
    """The node's file spaces by number (`dsmc query filespace`)."""
    result = run(["dsmc", "query", "filespace", "-date=2", "-time=1", "-scrollprompt=no"], env=s.env(), check=False)
    if result.returncode not in (0, DSMC_WARNINGS):
        raise UserError(f"dsmc query filespace failed (exit {result.returncode}); nothing was written")
    found: dict[int, str] = {}
    listing = False
    for line in result.out.splitlines():
        if "File Space Name" in line or line.lstrip().startswith("#"):
            listing = True
            continue
        match = _FILESPACE_ROW.match(line) if listing else None
        if match:
            found[int(match.group(1))] = match.group(2)
    if not found:
        raise UserError("dsmc query filespace lists no file space for this node: there is nothing to restore")
    return found


def choose(found: dict[int, str], mountpoints: tuple[str, ...] | None) -> tuple[str, ...]:
    """ReaR's default: the file spaces that are mount points of the layout (all when there is no layout), parents
    first (restore / before /var/log)."""
    chosen = [fs for fs in found.values() if mountpoints is None or fs in mountpoints]
    if not chosen:
        raise UserError(
            f"none of the TSM file spaces ({' '.join(found.values())}) is a file system of the layout",
            hint="check that this is the right node (NODENAME in dsm.sys)",
        )
    return tuple(sorted(chosen, key=lambda fs: (fs.count("/") if fs != "/" else 0, fs)))


def restore_argv(s: TsmSettings, filespace: str, target: Path, log_file: Path) -> tuple[str, ...]:
    source = filespace if filespace.endswith("/") else filespace + "/"
    into = str(target) + source
    return (
        "dsmc",
        "restore",
        source,
        into,
        "-subdir=yes",
        "-replace=all",
        "-tapeprompt=no",
        f"-errorlogname={log_file}",
        *s.restore_options,
    )


def restore(s: TsmSettings, chosen: tuple[str, ...], target: Path, log_dir: Path) -> None:
    log_dir.mkdir(parents=True, exist_ok=True)
    for filespace in chosen:
        name = re.sub(r"[^A-Za-z0-9]+", "_", filespace).strip("_") or "root"
        log_file = log_dir / f"TSM.{name}.restore.log"
        notice("restoring TSM file space %s into %s (progress: tail -f %s)", filespace, target, log_file)
        result = run(restore_argv(s, filespace, target, log_file), env=s.env(), check=False)
        with log_file.open("a") as f:
            f.write(result.out + result.err)
        if result.returncode in (DSMC_SKIPPED, DSMC_WARNINGS):
            log.warning("dsmc restore of %s: warnings (exit %d), see %s", filespace, result.returncode, log_file)
        elif result.returncode != 0:
            raise UserError(
                f"dsmc restore of file space {filespace} failed (exit {result.returncode})",
                hint=f"see {log_file}; the restore is incomplete",
            )
