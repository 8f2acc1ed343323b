"""BACKUP=RSYNC: the system as a file tree on an rsync server, over ssh or the rsync protocol, and its restore
(ReaR 2.7: prep, backup and restore/RSYNC/default/ and lib/rsync-functions.sh).

    BACKUP_URL=rsync://[USER@]HOST[:PORT]/PATH      over ssh (HOST:PATH)
    BACKUP_URL=rsync://[USER@]HOST[:PORT]::/PATH    an rsync daemon (rsync://HOST:PORT/PATH; PATH begins with
                                                    the daemon's module)
    (ReaR's old style [USER@]HOST:PATH and [USER@]HOST::PATH work too.)

    prep      rsync is installed and the server answers (rsync --list-only with BACKUP_RSYNC_OPTIONS, so an
              `-e "ssh ..."` there is used for the check as for the backup)
    backup    rsync BACKUP_RSYNC_OPTIONS --relative --one-file-system --delete --exclude-from=FILE
              --delete-excluded <the layout's mount tree> <remote>/<RSYNC_PREFIX>/backup
    verify    the remote backup directory lists and is not empty, before any disk is touched
    restore   rsync BACKUP_RSYNC_OPTIONS (without --relative) <remote>/<RSYNC_PREFIX>/backup/ <target>/

Where ReaR differs: it ignores the URL's port (the daemon is always 873, ssh uses ~/.ssh/config); rearbuild passes
it on (rsync://HOST:PORT/ for a daemon, ssh -p PORT).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rearbuild.backup.selection import Selection, backup_selection
from rearbuild.config.model import Config
from rearbuild.errors import UserError
from rearbuild.layout.model import Layout
from rearbuild.log import notice
from rearbuild.recover.options import RecoverOptions
from rearbuild.recover.target import restore_target
from rearbuild.run import Result, run

# rsync(1) EXIT VALUES: 24 is "partial transfer due to vanished source files" -- a live system's churn.
_VANISHED = 24
_EXIT_MEANINGS = {
    1: "syntax or usage error",
    2: "protocol incompatibility",
    3: "errors selecting input/output files, dirs",
    5: "error starting client-server protocol",
    10: "error in socket I/O",
    11: "error in file I/O",
    12: "error in rsync protocol data stream",
    23: "partial transfer due to error",
    30: "timeout in data send/receive",
    35: "timeout waiting for daemon connection",
}
_FORMS = "rsync://[USER@]HOST[:PORT]/PATH (ssh) or rsync://[USER@]HOST[:PORT]::/PATH (rsync daemon)"


@dataclass(frozen=True)
class RsyncLocation:
    daemon: bool  # the rsync protocol (an rsync daemon), else ssh
    user: str
    host: str
    port: str  # "" when the URL has none
    path: str  # ssh: the directory on the host; daemon: module/subdirectory

    def remote(self, prefix: str) -> str:
        """<remote>/<prefix>/backup as rsync names it (ReaR: rsync_remote_full .../backup)."""
        if self.daemon:
            port = f":{self.port}" if self.port else ""
            return f"rsync://{self.user}@{self.host}{port}/{self.path.strip('/')}/{prefix}/backup"
        return f"{self.user}@{self.host}:{self.path.rstrip('/')}/{prefix}/backup"

    def base(self) -> str:
        """What prep lists to see that the server answers: the daemon's modules, the ssh user's home."""
        if self.daemon:
            port = f":{self.port}" if self.port else ""
            return f"rsync://{self.user}@{self.host}{port}/"
        return f"{self.user}@{self.host}:"

    def parent(self) -> str:
        """The URL's own directory, where <prefix>/backup is created."""
        if self.daemon:
            return self.base() + self.path.strip("/") + "/"
        return f"{self.user}@{self.host}:{self.path.rstrip('/')}/"


def parse_url(text: str) -> RsyncLocation:
    """ReaR's rsync URL grammar (lib/rsync-functions.sh), the old style without scheme included."""
    text = text.strip()
    rest = text.removeprefix("rsync://")
    new_style = rest != text
    if not new_style and ("://" in text or ":" not in text):
        raise UserError(f"BACKUP_URL={text!r} is not an rsync URL", hint=f"BACKUP=RSYNC needs BACKUP_URL={_FORMS}")
    user, _, hostpart = rest.rpartition("@") if "@" in rest.split("/", 1)[0] else ("root", "", rest)
    daemon = "::" in hostpart
    if daemon:
        host, _, path = hostpart.partition("::")
        path = path.lstrip("/")
    elif new_style:
        host, slash, path = hostpart.partition("/")
        path = slash + path
    else:
        host, _, path = hostpart.partition(":")
    port = ""
    if new_style and ":" in host:
        host, _, port = host.partition(":")
    if not host or not path.strip("/") or (port and not port.isdigit()):
        raise UserError(f"BACKUP_URL={text!r}: no host, path or a bad port", hint=f"write BACKUP_URL={_FORMS}")
    return RsyncLocation(daemon, user or "root", host, port, path)


@dataclass(frozen=True)
class RsyncSettings:
    location: RsyncLocation
    url: str
    prefix: str
    options: tuple[str, ...]  # BACKUP_RSYNC_OPTIONS
    include: tuple[str, ...] = ()
    only_include: bool = False
    exclude: tuple[str, ...] = ()
    only_exclude: bool = False
    exclude_mountpoints: tuple[str, ...] = ()  # EXCLUDE_MOUNTPOINTS: file systems recreated but not backed up

    @property
    def remote(self) -> str:
        return self.location.remote(self.prefix)

    def transfer_options(self) -> tuple[str, ...]:
        """BACKUP_RSYNC_OPTIONS, plus ssh -p for a URL's port (ReaR drops it) unless the options name a shell."""
        options = self.options
        names_shell = any(o in ("-e", "--rsh") or o.startswith(("--rsh=", "-e")) for o in options)
        if not self.location.daemon and self.location.port and not names_shell:
            options = (*options, f"--rsh=ssh -p {self.location.port}")
        return options


def settings(config: Config) -> RsyncSettings:
    url = config.text("BACKUP_URL")
    if not url.strip():
        raise UserError("BACKUP=RSYNC needs BACKUP_URL", hint=f"set BACKUP_URL={_FORMS}")
    prefix = config.text("RSYNC_PREFIX").strip().strip("/")
    if not prefix or "/" in prefix:
        raise UserError(f"RSYNC_PREFIX={prefix!r}: one directory name", hint="e.g. RSYNC_PREFIX=$HOSTNAME")
    return RsyncSettings(
        location=parse_url(url),
        url=url.strip(),
        prefix=prefix,
        options=config.items("BACKUP_RSYNC_OPTIONS"),
        include=config.items("BACKUP_PROG_INCLUDE"),
        only_include=config.flag("BACKUP_ONLY_INCLUDE"),
        exclude=config.items("BACKUP_PROG_EXCLUDE"),
        only_exclude=config.flag("BACKUP_ONLY_EXCLUDE"),
        exclude_mountpoints=config.items("EXCLUDE_MOUNTPOINTS"),
    )


def required_programs(s: RsyncSettings) -> tuple[str, ...]:
    return ("rsync",) if s.location.daemon else ("rsync", "ssh")


def _explain(result: Result) -> str:
    meaning = _EXIT_MEANINGS.get(result.returncode, f"exit status {result.returncode}")
    tail = " | ".join(result.err.strip().splitlines()[-2:])
    return f"{meaning}: {tail}" if tail else meaning


def check(s: RsyncSettings) -> None:
    """rsync is installed and the server answers (ReaR: prep/RSYNC/default/100_check_rsync.sh)."""
    for program in required_programs(s):
        if shutil.which(program) is None:
            raise UserError(
                f"BACKUP=RSYNC needs {program}, which is not installed", hint="apt-get install rsync openssh-client"
            )
    result = run(["rsync", *_listing(s.transfer_options()), s.location.base()], check=False, timeout=120)
    if result.returncode != 0:
        how = "the rsync daemon" if s.location.daemon else f"ssh to {s.location.user}@{s.location.host}"
        raise UserError(
            f"BACKUP_URL={s.url}: {how} does not answer ({_explain(result)})",
            hint="start the rsync daemon / check the host and port"
            if s.location.daemon
            else "set up key-based ssh for root (ssh-copy-id), or give ssh options in BACKUP_RSYNC_OPTIONS "
            '(-e "ssh -i KEY")',
        )


def _without_stats(options: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(o for o in options if o != "--stats")


def _listing(options: tuple[str, ...]) -> tuple[str, ...]:
    """rsync --list-only of one directory level: --archive implies --recursive, which would list a whole tree."""
    return ("--list-only", *_without_stats(options), "--no-recursive", "--dirs")


# ---- backup -----------------------------------------------------------------------------------------------------


def selection(s: RsyncSettings, layout: Layout | None, never: tuple[str, ...]) -> Selection:
    return backup_selection(layout, include=s.include, only_include=s.only_include, exclude=s.exclude,
                            only_exclude=s.only_exclude, exclude_mountpoints=s.exclude_mountpoints,
                            never=never)  # fmt: skip


def make_backup(s: RsyncSettings, chosen: Selection, work_dir: Path) -> str:
    """Create <prefix>/backup on the server, then mirror the selection into it; returns rsync's summary."""
    options = s.transfer_options()
    with tempfile.TemporaryDirectory(dir=work_dir if work_dir.is_dir() else None) as empty:
        # ReaR's 200_make_prefix_dir.sh: rsync an empty <prefix>/backup tree to the URL's directory
        (Path(empty) / s.prefix / "backup").mkdir(parents=True)
        os.chmod(Path(empty) / s.prefix, 0o750)
        made = run(
            ["rsync", "-a", "-r", *_without_stats(options), f"{empty}/{s.prefix}", s.location.parent()], check=False
        )
        if made.returncode != 0:
            raise UserError(
                f"cannot create {s.prefix}/backup at BACKUP_URL={s.url} ({_explain(made)})",
                hint="check that the path exists on the server and is writable (a daemon module: read only = no)",
            )
    exclude_file = work_dir / "backup-exclude.txt"
    exclude_file.parent.mkdir(parents=True, exist_ok=True)
    exclude_file.write_text(chosen.exclude_text())
    relative = () if any(o in ("--relative", "-R") for o in options) else ("--relative",)
    argv = [
        "rsync",
        *options,
        *relative,
        "--one-file-system",
        "--delete",
        f"--exclude-from={exclude_file}",
        "--delete-excluded",
        *chosen.includes,
        s.remote,
    ]
    notice("rsync of %s to %s", " ".join(chosen.includes), s.remote)
    result = run(argv, check=False, timeout=None)
    if result.returncode not in (0, _VANISHED):
        raise UserError(
            f"rsync to {s.remote} failed ({_explain(result)})",
            hint="see the log; files rsync cannot and should not save belong in BACKUP_PROG_EXCLUDE",
        )
    if result.returncode == _VANISHED:
        notice("rsync: some files vanished while they were copied; the backup is complete otherwise")
    return result.out.strip()


# ---- verify and restore -----------------------------------------------------------------------------------------


def verify(s: RsyncSettings) -> None:
    """The backup directory on the server lists and is not empty (before any disk is touched)."""
    result = run(["rsync", *_listing(s.transfer_options()), s.remote + "/"], check=False)
    if result.returncode != 0:
        raise UserError(
            f"no backup at {s.remote} ({_explain(result)})",
            hint="check BACKUP_URL and RSYNC_PREFIX, and that the server answers; nothing was written",
        )
    entries = [line for line in result.out.splitlines() if line.strip() and not line.rstrip().endswith(" .")]
    if not entries:
        raise UserError(f"the backup at {s.remote} is empty", hint="run rearbuild mkbackup first; nothing was written")
    notice("backup at %s: %d top-level entries", s.remote, len(entries))


def restore(s: RsyncSettings, options: RecoverOptions) -> Path:
    """rsync the backup tree into the target (ReaR: restore/RSYNC/default/400_restore_rsync_backup.sh, with
    --relative removed as in 200_remove_relative_rsync_option.sh)."""
    target = restore_target(options)
    transfer = tuple(o for o in s.transfer_options() if o not in ("--relative", "-R"))
    notice("restoring %s into %s", s.remote, target)
    result = run(["rsync", *transfer, s.remote + "/", f"{target}/"], check=False, timeout=None)
    if result.returncode != 0:
        raise UserError(
            f"rsync from {s.remote} failed ({_explain(result)})",
            hint="the target may be partly restored; fix the cause and run restoreonly again",
        )
    summary = result.out.strip().splitlines()[-2:]
    if summary:
        notice("%s", " ".join(summary))
    return target
