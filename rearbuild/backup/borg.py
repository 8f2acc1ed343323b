"""BACKUP=BORG: the system in a Borg repository, local or over ssh, and its restore (ReaR 2.7: prep, backup, verify
and restore/BORG/default/ and lib/borg-functions.sh; https://borgbackup.readthedocs.io).

    prep      borg is installed, BORGBACKUP_ARCHIVE_PREFIX is alphanumeric, the repository answers `borg list`;
              one that does not exist yet is created with `borg init --encryption BORGBACKUP_ENC_TYPE`
    backup    borg create --one-file-system ... REPO::<prefix>_<n+1> <the layout's mount tree>, then borg prune
              --prefix <prefix>_ with the BORGBACKUP_PRUNE_KEEP_* rules
    verify    the repository lists its archives with the passphrase given (a wrong one is found here, before any
              disk is touched) and one archive is chosen: USER_INPUT_BORGBACKUP_ARCHIVE_TO_RECOVER, the operator,
              or the newest
    restore   borg extract --sparse --numeric-ids REPO::<archive> in the target (/mnt/local or --demo DIR)

Secrets: the passphrase reaches borg only in its environment (BORG_PASSPHRASE, from the configuration, the
caller's environment or typed in by the operator), never in an argv, a log or -- unless
BORGBACKUP_PASSPHRASE_IN_IMAGE=yes -- the rescue image.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from rearbuild.backup.selection import Selection, backup_selection
from rearbuild.config.model import Config, truth
from rearbuild.errors import UserError
from rearbuild.layout.model import Layout
from rearbuild.log import notice
from rearbuild.recover.options import RecoverOptions
from rearbuild.recover.target import restore_target
from rearbuild.run import CommandError, Result, run

# ReaR's borg_set_vars: BORGBACKUP_PRUNE_KEEP_<X> -> --keep-<x>; the old BORGBACKUP_PRUNE_<X> are not defined here.
_PRUNE_RULES = ("WITHIN", "LAST", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY")
# borg's environment variables a configuration may set (ReaR: `export BORG_...` in local.conf); only these are
# defined in default.conf, so that Config can read them.
ENVIRONMENT = (
    "BORG_PASSPHRASE",
    "BORG_PASSCOMMAND",
    "BORG_RSH",
    "BORG_REMOTE_PATH",
    "BORG_BASE_DIR",
    "BORG_CACHE_DIR",
    "BORG_CONFIG_DIR",
    "BORG_KEYS_DIR",
    "BORG_SECURITY_DIR",
    "BORG_RELOCATED_REPO_ACCESS_IS_OK",
    "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK",
)
PASSPHRASE = "BORG_PASSPHRASE"
# A passphrase borg can get without asking: https://borgbackup.readthedocs.io/en/1.2-maint/usage/general.html
_PASS_SOURCES = ("BORG_PASSPHRASE", "BORG_PASSCOMMAND", "BORG_PASSPHRASE_FD")
# borg's exit status 1 is a warning (a file vanished or changed while read): the archive is complete otherwise.
_BORG_WARNING = 1
# The archive-name rule of ReaR's prep/BORG/default/200_prep_borg.sh ('_' separates prefix and number).
_PREFIX_RE = re.compile(r"[A-Za-z0-9]+")
ARCHIVE_QUESTION = "USER_INPUT_BORGBACKUP_ARCHIVE_TO_RECOVER"


@dataclass(frozen=True)
class Shown:
    """What borg prints for one operation (BORGBACKUP_<OP>_SHOW_*, each defaulting to BORGBACKUP_SHOW_*)."""

    progress: bool = False
    stats: bool = False
    listing: bool = False
    rc: bool = False

    def options(self, *, list_filter: bool = False, stats: bool = True) -> tuple[str, ...]:
        chosen: list[str] = []
        if self.progress:
            chosen.append("--progress")
        if self.stats and stats:
            chosen.append("--stats")
        if self.listing:
            chosen += ["--list", "--filter", "AME"] if list_filter else ["--list"]
        if self.rc:
            chosen.append("--show-rc")
        return tuple(chosen)


@dataclass(frozen=True)
class BorgSettings:
    host: str
    username: str
    port: str
    repo: str
    prefix: str
    compression: str
    encryption: str
    remote_path: str
    umask: str
    prune: tuple[str, ...]
    create: Shown
    prune_shown: Shown
    extract: Shown
    exclude_caches: bool
    exclude_if_nobackup: bool
    timestamp: str
    make_parent_dirs: bool
    choice: str  # USER_INPUT_BORGBACKUP_ARCHIVE_TO_RECOVER
    include: tuple[str, ...] = ()
    only_include: bool = False
    exclude: tuple[str, ...] = ()
    only_exclude: bool = False
    exclude_mountpoints: tuple[str, ...] = ()  # EXCLUDE_MOUNTPOINTS: file systems recreated but not backed up
    environment: Mapping[str, str] = field(default_factory=dict, repr=False)  # BORG_*: may hold the passphrase

    @property
    def location(self) -> str:
        """The repository as borg names it (ReaR: ${borg_dst_dev}${BORGBACKUP_REPO})."""
        if not self.host:
            return self.repo
        user = f"{self.username}@" if self.username else ""
        return f"ssh://{user}{self.host}:{self.port}{self.repo}"

    @property
    def where(self) -> str:
        return f"Borg repository {self.repo} on {self.host or 'this machine'}"

    @property
    def common(self) -> tuple[str, ...]:
        """--remote-path and --umask, which every borg command of ReaR's passes."""
        chosen: list[str] = []
        if self.remote_path:
            chosen += ["--remote-path", self.remote_path]
        if self.umask:
            chosen += ["--umask", self.umask]
        return tuple(chosen)

    @property
    def encrypted(self) -> bool:
        return self.encryption not in ("", "none", "authenticated", "authenticated-blake2")

    @property
    def has_passphrase(self) -> bool:
        return any(self.environment.get(n) for n in _PASS_SOURCES)

    def with_passphrase(self, passphrase: str) -> BorgSettings:
        return replace(self, environment={**self.environment, PASSPHRASE: passphrase})

    def env(self, *, restoring: bool = False) -> dict[str, str]:
        """borg's environment: the caller's, the configured BORG_* and a UTF-8 locale (ReaR: LC_ALL=en_US.UTF-8;
        C.UTF-8 is built into glibc, so the rescue system needs no locale files). Restoring reads the one
        repository configured, which the fresh rescue system's borg has never seen: it must not stop to ask."""
        env = {k: v for k, v in os.environ.items() if k not in _PASS_SOURCES or k in self.environment}
        env.update({k: v for k, v in self.environment.items() if v})
        env["LC_ALL"] = "C.UTF-8"
        if restoring:
            env.setdefault("BORG_RELOCATED_REPO_ACCESS_IS_OK", "yes")
            env.setdefault("BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK", "yes")
        return env


def _shown(config: Config, operation: str) -> Shown:
    def one(what: str) -> bool:
        own = config.text(f"BORGBACKUP_{operation}_SHOW_{what}").strip()
        return bool(truth(own or config.text(f"BORGBACKUP_SHOW_{what}")))

    return Shown(one("PROGRESS"), one("STATS"), one("LIST"), one("RC"))


def settings(config: Config) -> BorgSettings:
    """The BORG configuration, checked (ReaR: borg_set_vars and prep/BORG/default/200_prep_borg.sh)."""
    prefix = config.text("BORGBACKUP_ARCHIVE_PREFIX")
    if not _PREFIX_RE.fullmatch(prefix):
        raise UserError(
            f"{config.where('BORGBACKUP_ARCHIVE_PREFIX')}: BORGBACKUP_ARCHIVE_PREFIX={prefix!r} must be a "
            "non-empty alphanumeric word ('_' separates it from the archive number)",
            hint='e.g. BORGBACKUP_ARCHIVE_PREFIX="rear"',
        )
    repo = config.text("BORGBACKUP_REPO").strip()
    if not repo.startswith("/"):
        raise UserError(
            f"BORGBACKUP_REPO={repo!r}: the repository must be a path beginning with /",
            hint="e.g. BORGBACKUP_REPO=/backup/$HOSTNAME (on BORGBACKUP_HOST, or on this machine without one); "
            "/~/repo is relative to the ssh user's home",
        )
    prune: list[str] = []
    for rule in _PRUNE_RULES:
        value = config.text(f"BORGBACKUP_PRUNE_KEEP_{rule}").strip()
        if value:
            prune += [f"--keep-{rule.lower()}", value]
    return BorgSettings(
        host=config.text("BORGBACKUP_HOST").strip(),
        username=config.text("BORGBACKUP_USERNAME").strip(),
        port=config.text("BORGBACKUP_PORT").strip() or "22",
        repo=repo,
        prefix=prefix,
        compression=config.text("BORGBACKUP_COMPRESSION").strip(),
        encryption=config.text("BORGBACKUP_ENC_TYPE").strip(),
        remote_path=config.text("BORGBACKUP_REMOTE_PATH").strip(),
        umask=config.text("BORGBACKUP_UMASK").strip(),
        prune=tuple(prune),
        create=_shown(config, "CREATE"),
        prune_shown=_shown(config, "PRUNE"),
        extract=_shown(config, "EXTRACT"),
        exclude_caches=config.flag("BORGBACKUP_EXCLUDE_CACHES"),
        exclude_if_nobackup=config.flag("BORGBACKUP_EXCLUDE_IF_NOBACKUP"),
        timestamp=config.text("BORGBACKUP_TIMESTAMP").strip(),
        make_parent_dirs=config.flag("BORGBACKUP_INIT_MAKE_PARENT_DIRS"),
        choice=config.text(ARCHIVE_QUESTION).strip(),
        include=config.items("BACKUP_PROG_INCLUDE"),
        only_include=config.flag("BACKUP_ONLY_INCLUDE"),
        exclude=config.items("BACKUP_PROG_EXCLUDE"),
        only_exclude=config.flag("BACKUP_ONLY_EXCLUDE"),
        exclude_mountpoints=config.items("EXCLUDE_MOUNTPOINTS"),
        environment={n: config.text(n) for n in ENVIRONMENT if config.text(n)},
    )


# ---- what the rescue image needs --------------------------------------------------------------------------------

PROGRAMS = ("borg",)  # ReaR adds `locale` for its en_US.UTF-8; rearbuild uses the built-in C.UTF-8
SSH_PROGRAMS = ("ssh",)


def required_programs(s: BorgSettings) -> tuple[str, ...]:
    return (*PROGRAMS, *(SSH_PROGRAMS if s.host else ()))


def check_installed(s: BorgSettings) -> str:
    """The borg program on this host (the rescue image gets the same one)."""
    for program in required_programs(s):
        if shutil.which(program) is None:
            raise UserError(
                f"BACKUP=BORG needs {program}, which is not installed",
                hint="apt-get install borgbackup openssh-client (dnf install borgbackup openssh-clients)",
            )
    return str(shutil.which("borg"))


# Standard-library modules borg never imports in a restore: GUI, test suites, build tools (rearbuild's own list
# leaves out more, e.g. email, which borg's entry point needs through importlib.metadata).
PYTHON_EXCLUDES = ("tkinter", "idlelib", "test", "turtledemo", "ensurepip", "lib2to3", "pydoc_data", "venv", "pytest")


def python_packages(borg: str) -> tuple[Path, ...]:
    """Debian's borg is a Python program: what its interpreter imports from site-/dist-packages (borg, msgpack,
    packaging, ...) and borg's egg-info, which the entry-point script reads. Empty for a standalone binary."""
    with open(borg, "rb") as f:
        first = f.readline(256)
    if not first.startswith(b"#!") or b"python" not in first:
        return ()
    interpreter = first[2:].decode().split()[0]
    # every third-party module borg's command line imports (borg, msgpack, packaging, ...), as the top-level
    # directory or file below site-/dist-packages, and borg's metadata (its entry-point script
    # reads it); borg.testsuite stays: borg.selftest imports it at every start
    probe = (
        "import sys, os, importlib.metadata as m, borg.archiver\n"
        "print(m.distribution('borgbackup')._path)\n"
        "for mod in list(sys.modules.values()):\n"
        "    f = getattr(mod, '__file__', None) or ''\n"
        "    for site in ('/dist-packages/', '/site-packages/'):\n"
        "        if site in f:\n"
        "            base, rest = f.split(site, 1)\n"
        "            print(base + site + rest.split('/')[0])\n"
    )
    out = run([interpreter, "-I", "-c", probe], hint="borg's Python modules (borg, msgpack) are not installed").out
    return tuple(sorted({Path(line) for line in out.splitlines() if line}))


# ---- prep: the repository answers -------------------------------------------------------------------------------


def _borg(
    s: BorgSettings, *args: str, restoring: bool = False, check: bool = True, ok: tuple[int, ...] = (0,)
) -> Result:
    return run(["borg", *args], env=s.env(restoring=restoring), check=check, ok_codes=ok, timeout=None)


def _unreachable(s: BorgSettings, result: Result) -> UserError:
    tail = " | ".join(result.err.strip().splitlines()[-2:])
    if "passphrase" in result.err.lower():
        return UserError(
            f"{s.where}: the passphrase is wrong or missing ({tail})",
            hint="set BORG_PASSPHRASE (export BORG_PASSPHRASE=... in a file only root reads, e.g. -C FILE)",
        )
    if "parent path" in result.err:
        return UserError(
            f"{s.where} cannot be created: its parent directory does not exist",
            hint="create it, or set BORGBACKUP_INIT_MAKE_PARENT_DIRS=yes",
        )
    if "lock" in result.err.lower():
        return UserError(f"{s.where}: borg cannot get the repository's lock ({tail})", hint="borg break-lock REPO")
    return UserError(
        f"{s.where} does not answer: {tail}",
        hint="check BORGBACKUP_HOST, BORGBACKUP_PORT, BORGBACKUP_USERNAME and that ssh to it works without a "
        "password (BORG_RSH for ssh options); borg must be installed there (BORGBACKUP_REMOTE_PATH)",
    )


def archives(s: BorgSettings, *, restoring: bool = False) -> tuple[str, ...]:
    """The repository's archives, oldest first (borg list --json)."""
    result = _borg(s, "list", "--json", *s.common, s.location, restoring=restoring, check=False)
    if result.returncode != 0:
        raise _unreachable(s, result)
    return tuple(a["name"] for a in json.loads(result.out)["archives"])


def _missing(result: Result) -> bool:
    return "does not exist" in result.err or "is not a valid repository" in result.err


def prepare_repository(s: BorgSettings, *, create: bool) -> tuple[str, ...]:
    """The repository answers; one that does not exist is initialised when create (ReaR: 300_init_archive.sh).
    Returns its archives, oldest first (each borg command over ssh starts two Python programs: asked once)."""
    result = _borg(s, "list", "--json", *s.common, s.location, check=False)
    if result.returncode == 0:
        return tuple(a["name"] for a in json.loads(result.out)["archives"])
    if not _missing(result) or not create:
        raise _unreachable(s, result)
    if s.encrypted and not s.has_passphrase:
        raise UserError(
            f"{s.where} is to be created with BORGBACKUP_ENC_TYPE={s.encryption}, but no passphrase is given",
            hint="export BORG_PASSPHRASE=... in a configuration file only root can read (or BORG_PASSCOMMAND)",
        )
    options = ["--make-parent-dirs"] if s.make_parent_dirs else []
    encryption = ["--encryption", s.encryption] if s.encryption else []
    notice("initialising %s", s.where)
    done = _borg(s, "init", *options, *encryption, *s.common, s.location, check=False)
    if done.returncode != 0:
        raise _unreachable(s, done)
    return ()


def keys_directory(s: BorgSettings) -> Path | None:
    """BORGBACKUP_ENC_TYPE=keyfile keeps the key on this machine: the rescue image needs it to restore."""
    if not s.encryption.startswith("keyfile"):
        return None
    if s.environment.get("BORG_KEYS_DIR"):
        return Path(s.environment["BORG_KEYS_DIR"])
    base = s.environment.get("BORG_CONFIG_DIR") or os.path.join(
        s.environment.get("BORG_BASE_DIR") or os.path.expanduser("~"), ".config/borg"
    )
    return Path(base, "keys")


# ---- backup -----------------------------------------------------------------------------------------------------


def next_archive(s: BorgSettings, names: tuple[str, ...]) -> str:
    """<prefix>_<n+1> for the largest n among the prefix's archives (ReaR: backup/BORG/default/100_get_suffix.sh)."""
    numbers = [int(n.split("_", 1)[1]) for n in names if re.fullmatch(rf"{s.prefix}_\d+", n)]
    return f"{s.prefix}_{max(numbers, default=0) + 1}"


def selection(s: BorgSettings, layout: Layout | None, never: tuple[str, ...]) -> Selection:
    extra = [s.repo] if not s.host else []  # a local repository is never backed up into itself
    return backup_selection(layout, include=s.include, only_include=s.only_include, exclude=s.exclude,
                            extra_excludes=extra, only_exclude=s.only_exclude,
                            exclude_mountpoints=s.exclude_mountpoints, never=never)  # fmt: skip


def make_backup(s: BorgSettings, chosen: Selection, work_dir: Path, existing: tuple[str, ...] | None = None) -> str:
    """borg create, then borg prune; returns the archive's name. existing: the archives prep listed."""
    name = next_archive(s, archives(s) if existing is None else existing)
    exclude_file = work_dir / "backup-exclude.txt"
    exclude_file.parent.mkdir(parents=True, exist_ok=True)
    exclude_file.write_text(chosen.exclude_text())
    options = list(s.create.options(list_filter=True))
    if s.exclude_caches:
        options.append("--exclude-caches")
    if s.exclude_if_nobackup:
        options += ["--exclude-if-present", ".nobackup"]
    if s.timestamp:
        options += ["--timestamp", s.timestamp]
    if s.compression:
        options += ["--compression", s.compression]
    notice("creating archive %s in %s: %s", name, s.where, " ".join(chosen.includes))
    result = _borg(
        s,
        "create",
        "--one-file-system",
        *options,
        *s.common,
        "--exclude-from",
        str(exclude_file),
        f"{s.location}::{name}",
        *chosen.includes,
        check=False,
        ok=(0, _BORG_WARNING),
    )
    if result.returncode not in (0, _BORG_WARNING):
        raise UserError(
            f"borg create of {name} in {s.where} failed (status {result.returncode}): "
            + " | ".join(result.err.strip().splitlines()[-2:]),
            hint="the previous archives are untouched; see the log for borg's messages",
        )
    if result.returncode == _BORG_WARNING:
        notice("borg: some files changed or vanished while they were read; the archive is complete otherwise")
    _show(result)
    if s.prune:
        notice("pruning old archives %s_* in %s", s.prefix, s.where)
        pruned = _borg(
            s, "prune", *s.prune_shown.options(), *s.prune, *s.common, "--prefix", f"{s.prefix}_", s.location
        )
        _show(pruned)
    return name


def _show(result: Result) -> None:
    text = (result.out + result.err).strip()
    if text:
        notice("%s", text)


# ---- verify and restore -----------------------------------------------------------------------------------------


def passphrase(s: BorgSettings, *, typed: str = "", interactive: bool) -> BorgSettings:
    """An encrypted repository needs its passphrase in borg's environment; the rescue image does not carry it
    unless configured, so the operator types it (or -C FILE gives it)."""
    if not s.encrypted or s.has_passphrase:
        return s
    if typed:
        return s.with_passphrase(typed)
    if not interactive:
        raise UserError(
            f"{s.where} is encrypted (BORGBACKUP_ENC_TYPE={s.encryption}) and no passphrase was given",
            hint="run again with -C FILE where FILE sets export BORG_PASSPHRASE=..., or interactively to type it",
        )
    typed = getpass.getpass(f"Passphrase of {s.where} (BORG_PASSPHRASE): ")
    if not typed:
        raise UserError("no passphrase typed in: the Borg repository cannot be read")
    return s.with_passphrase(typed)


def choose_archive(s: BorgSettings, names: tuple[str, ...], *, interactive: bool) -> str:
    """The archive to restore: USER_INPUT_BORGBACKUP_ARCHIVE_TO_RECOVER (its number in the list, 1 the oldest as
    in ReaR, or its name), the operator's choice, or -- unattended -- the newest (ReaR: 300_load_archives.sh)."""
    if not names:
        raise UserError(f"{s.where} holds no archive", hint="run rearbuild mkbackuponly first")
    newest = names[-1]
    if s.choice:
        return _pick(s.choice, names, f"{ARCHIVE_QUESTION}={s.choice}")
    if not interactive:
        notice("restoring the newest archive %s (set %s to choose another)", newest, ARCHIVE_QUESTION)
        return newest
    listing = "\n".join(f"[{i}] {n}" for i, n in enumerate(names, 1))
    sys.stderr.write(f"=== Borg archives in {s.where} ===\n{listing}\nChoose archive to recover from [{len(names)}]: ")
    sys.stderr.flush()
    typed = sys.stdin.readline().strip()
    return _pick(typed, names, typed) if typed else newest


def _pick(answer: str, names: tuple[str, ...], said: str) -> str:
    if answer in names:
        return answer
    if answer.isdigit() and 1 <= int(answer) <= len(names):
        return names[int(answer) - 1]
    raise UserError(
        f"{said}: no such archive (there are {len(names)}: {', '.join(names[-5:])}{' ...' if len(names) > 5 else ''})",
        hint=f"give a number from 1 (oldest) to {len(names)} (newest), or an archive's name",
    )


def verify(s: BorgSettings, *, interactive: bool) -> str:
    """The repository answers with this passphrase and holds the archive to restore; returns its name."""
    names = archives(s, restoring=True)
    archive = choose_archive(s, names, interactive=interactive)
    notice("will restore archive %s from %s", archive, s.where)
    return archive


def restore(s: BorgSettings, archive: str, options: RecoverOptions) -> Path:
    """borg extract of the archive in the target. --numeric-ids: the rescue system's /etc/passwd is not the
    restored system's, so names would map files to the wrong owners (tar's --numeric-owner in NETFS)."""
    target = restore_target(options)
    notice("restoring %s::%s into %s", s.where, archive, target)
    try:
        result = run(
            [
                "borg",
                "extract",
                "--sparse",
                "--numeric-ids",
                *s.extract.options(),
                *s.common,
                f"{s.location}::{archive}",
            ],
            env=s.env(restoring=True),
            cwd=target,
            ok_codes=(0, _BORG_WARNING),
        )
    except CommandError as exc:
        raise UserError(str(exc), hint="the target may be partly restored; fix the cause and run restoreonly") from exc
    if result.returncode == _BORG_WARNING:
        notice("borg extract reported warnings (see the log): %s", result.err.strip().splitlines()[-1:])
    _show(result)
    return target
