"""BACKUP=BACULA: restore what Bacula backed up (ReaR 2.7: prep, verify and restore/BACULA/default/). Bacula's own
schedule makes the backups: rearbuild's mkbackup writes none, as ReaR's.

    prep      BACULA_CONF_DIR/BACULA_BIN_DIR found (/etc/bacula, /opt/bacula/etc); with BEXTRACT_DEVICE/VOLUME
              bextract and bacula-sd.conf, else bacula-fd, bconsole, their configurations and a director that
              reaches this client (`status client=<client>`); the rescue image gets PROGS_BACULA, the
              configuration directory and COPY_AS_IS_BACULA
    verify    director-less: `bls -j -V VOLUME DEVICE` reads the volume; with the director: bacula-fd runs (started
              in the rescue system) and the director reaches it -- before any disk is touched
    restore   director-less: bextract -c bacula-sd.conf -V VOLUME DEVICE <target>; with the director:
              BACULA_RESTORE_AUTOMATIC=yes runs `restore client=<client> where=<target> select current all done
              yes` in bconsole and waits for "Restore OK" (rearbuild's addition), else the operator restores in an
              interactive bconsole as in ReaR
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from rearbuild.config.model import Config
from rearbuild.errors import UserError
from rearbuild.log import notice
from rearbuild.recover.options import RecoverOptions
from rearbuild.recover.target import restore_target
from rearbuild.run import run

_CONF_DIRS = ("/etc/bacula", "/opt/bacula/etc")  # ReaR's prep/BACULA/default/400_prep_bacula.sh
_BIN_DIRS = ("/usr/sbin", "/opt/bacula/bin")
FD_PORT = 9102  # bacula-fd's default FDPort (Bacula's Main manual, Client/File daemon configuration)
_CONNECT_TIMEOUT = 5  # seconds to reach a local bacula-fd


def resource(text: str, kind: str) -> dict[str, str]:
    """The directives of the first `kind { ... }` resource of a Bacula configuration, keys lower-case without
    blanks (Bacula ignores case and blanks in directive names)."""
    text = re.sub(r"#[^\n]*", "", text)
    match = re.search(rf"(?im)^\s*{kind}\s*\{{(.*?)\}}", text, re.S)
    if match is None:
        return {}
    found: dict[str, str] = {}
    for key, value in re.findall(r"([A-Za-z][A-Za-z ]*?)\s*=\s*(\"[^\"]*\"|[^;\n]+)", match.group(1)):
        found.setdefault(key.replace(" ", "").lower(), value.strip().strip('"'))
    return found


@dataclass(frozen=True)
class BaculaSettings:
    conf_dir: Path
    bin_dir: Path
    bextract_device: str
    bextract_volume: str
    client: str  # the File daemon's name, as the director knows it
    automatic: bool  # BACULA_RESTORE_AUTOMATIC
    programs: tuple[str, ...]  # PROGS_BACULA
    copy: tuple[str, ...]  # COPY_AS_IS_BACULA
    copy_exclude: tuple[str, ...]  # COPY_AS_IS_EXCLUDE_BACULA

    @property
    def director_less(self) -> bool:
        return bool(self.bextract_device or self.bextract_volume)

    def conf(self, name: str) -> Path:
        return self.conf_dir / name

    def env(self) -> dict[str, str]:
        return {**os.environ, "PATH": f"{os.environ.get('PATH', '/usr/bin:/bin')}:{self.bin_dir}"}

    def program(self, name: str) -> str:
        found = shutil.which(name, path=self.env()["PATH"])
        if found is None:
            raise UserError(
                f"BACKUP=BACULA needs {name}, which is not installed (BACULA_BIN_DIR={self.bin_dir})",
                hint="apt-get install bacula-fd bacula-console (bacula-sd for bextract and bls)",
            )
        return found


def _first_dir(configured: str, candidates: tuple[str, ...], name: str) -> Path:
    if configured:
        if not Path(configured).is_dir():
            raise UserError(f"{name}={configured} is not a directory", hint=f"set {name} to Bacula's directory")
        return Path(configured)
    for candidate in candidates:
        if Path(candidate).is_dir():
            return Path(candidate)
    raise UserError(f"no {name}: none of {', '.join(candidates)} exists", hint=f"install Bacula or set {name}")


def settings(config: Config) -> BaculaSettings:
    conf_dir = _first_dir(config.text("BACULA_CONF_DIR").strip(), _CONF_DIRS, "BACULA_CONF_DIR")
    bin_dir = _first_dir(config.text("BACULA_BIN_DIR").strip(), _BIN_DIRS, "BACULA_BIN_DIR")
    client = config.text("BACULA_CLIENT").strip()
    fd_conf = conf_dir / "bacula-fd.conf"
    if not client and fd_conf.is_file():
        client = resource(fd_conf.read_text(errors="replace"), "FileDaemon").get("name", "")
    return BaculaSettings(
        conf_dir=conf_dir,
        bin_dir=bin_dir,
        bextract_device=config.text("BEXTRACT_DEVICE").strip(),
        bextract_volume=config.text("BEXTRACT_VOLUME").strip(),
        client=client,
        automatic=config.flag("BACULA_RESTORE_AUTOMATIC"),
        programs=config.items("PROGS_BACULA"),
        copy=config.items("COPY_AS_IS_BACULA"),
        copy_exclude=config.items("COPY_AS_IS_EXCLUDE_BACULA"),
    )


def _need_file(s: BaculaSettings, name: str) -> None:
    if not s.conf(name).is_file() or s.conf(name).stat().st_size == 0:
        raise UserError(f"Bacula's configuration {s.conf(name)} is missing", hint="set BACULA_CONF_DIR")


def required_programs(s: BaculaSettings) -> tuple[str, ...]:
    return ("bextract", "bls") if s.director_less else ("bacula-fd", "bconsole")


def bconsole(s: BaculaSettings, commands: str, *, timeout: float | None = 120) -> str:
    """Commands through bconsole (the director's password stays in bconsole.conf, never on a command line)."""
    script = commands.rstrip("\n") + "\nquit\n"
    result = run([s.program("bconsole"), "-c", str(s.conf("bconsole.conf"))], input=script, env=s.env(),
                 check=False, timeout=timeout)  # fmt: skip
    return result.out + result.err


def check_director(s: BaculaSettings) -> None:
    """The director answers and reaches this client (ReaR: 500_check_BACULA_bconsole_results.sh)."""
    if not s.client:
        raise UserError(
            f"no client name: {s.conf('bacula-fd.conf')} has no FileDaemon Name", hint="set BACULA_CLIENT=<name>-fd"
        )
    out = bconsole(s, f"status client={s.client}")
    if "Daemon started" not in out:  # the client's status report, which the director fetched from bacula-fd
        problems = [ln.strip() for ln in out.splitlines() if re.search(r"(?i)fail|error|ERR=|authoriz", ln)]
        raise UserError(
            f"the Bacula director does not reach client {s.client}: "
            + (problems[0] if problems else " | ".join(out.strip().splitlines()[-2:])),
            hint=f"check the director in {s.conf('bconsole.conf')} and that it runs, that bacula-fd runs here, "
            "and the client's name (BACULA_CLIENT) and password",
        )


def check(s: BaculaSettings) -> None:
    """What the restore will need, on this host (ReaR: 450_check_BACULA_client_configured.sh, 500_...)."""
    for program in required_programs(s):
        s.program(program)
    if s.director_less:
        _need_file(s, "bacula-sd.conf")
        return
    _need_file(s, "bacula-fd.conf")
    _need_file(s, "bconsole.conf")
    check_director(s)


# ---- verify and restore -----------------------------------------------------------------------------------------


def _fd_listening(s: BaculaSettings) -> tuple[bool, dict[str, str]]:
    fd = resource(s.conf("bacula-fd.conf").read_text(errors="replace"), "FileDaemon")
    port = int(fd.get("fdport", FD_PORT))
    with socket.socket() as sock:
        sock.settimeout(_CONNECT_TIMEOUT)
        return sock.connect_ex((fd.get("fdaddress", "127.0.0.1"), port)) == 0, fd


def start_file_daemon(s: BaculaSettings) -> None:
    """bacula-fd must run for a restore through the director (ReaR: verify/BACULA/default/050_start_bacula_fd)."""
    listening, fd = _fd_listening(s)
    if listening:
        return
    for key in ("workingdirectory", "piddirectory"):
        if fd.get(key):
            Path(fd[key]).mkdir(parents=True, exist_ok=True)
    run([s.program("bacula-fd"), "-c", str(s.conf("bacula-fd.conf"))], env=s.env())
    notice("started bacula-fd (%s)", s.client)


def verify(s: BaculaSettings, *, interactive: bool) -> None:
    if s.director_less:
        if not s.bextract_device or not s.bextract_volume:
            raise UserError("BEXTRACT_DEVICE and BEXTRACT_VOLUME go together", hint="set both (the volume may be '*')")
        _need_file(s, "bacula-sd.conf")
        result = run([s.program("bls"), "-c", str(s.conf("bacula-sd.conf")), "-j", "-V", s.bextract_volume,
                      s.bextract_device], env=s.env(), check=False, timeout=600)  # fmt: skip
        if result.returncode != 0 or "Volume Record" not in result.out + result.err:
            tail = " | ".join((result.out + result.err).strip().splitlines()[-2:])
            raise UserError(
                f"bls cannot read volume {s.bextract_volume} on {s.bextract_device}: {tail}",
                hint="check BEXTRACT_DEVICE (a device name in bacula-sd.conf or its Archive Device) and "
                "BEXTRACT_VOLUME; nothing was written",
            )
        notice("Bacula volume %s on %s reads", s.bextract_volume, s.bextract_device)
        return
    if not s.automatic and not interactive:
        raise UserError(
            "BACKUP=BACULA restores through the director in an interactive bconsole, and nobody can use it",
            hint="set BACULA_RESTORE_AUTOMATIC=yes, or BEXTRACT_DEVICE and BEXTRACT_VOLUME, or run interactively",
        )
    start_file_daemon(s)
    check_director(s)


def restore(s: BaculaSettings, options: RecoverOptions, *, interactive: bool) -> Path:
    target = restore_target(options)
    if s.director_less:
        notice("restoring volume %s from %s into %s with bextract", s.bextract_volume, s.bextract_device, target)
        run([s.program("bextract"), "-c", str(s.conf("bacula-sd.conf")), "-V", s.bextract_volume,
             s.bextract_device, str(target)], env=s.env(), timeout=None)  # fmt: skip
        return target
    if s.automatic:
        notice("restoring the newest backup of %s into %s through the Bacula director", s.client, target)
        out = bconsole(
            s, f"restore client={s.client} where={target} select current all done yes\nwait\nmessages", timeout=None
        )
        status = re.findall(r"Termination:\s*(.*)", out)
        if not status or "Restore OK" not in status[-1]:
            detail = status[-1] if status else " | ".join(out.strip().splitlines()[-3:])
            raise UserError(
                f"the Bacula restore of {s.client} did not finish: {detail}",
                hint="see the director's messages (bconsole: messages) and restore by hand in bconsole",
            )
        notice("Bacula: %s", status[-1].strip())
        return target
    sys.stderr.write(
        f"Restore with bconsole now: restore client={s.client} where={target} select current all done yes\n"
        "then `wait`, and quit bconsole when the job has terminated.\n"
    )
    run([s.program("bconsole"), "-c", str(s.conf("bconsole.conf"))], stdin=sys.stdin.buffer,
        stdout=sys.stdout.buffer, env=s.env(), check=False, timeout=None)  # fmt: skip
    return target
