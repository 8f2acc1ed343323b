"""BACKUP=DP: OpenText (formerly Micro Focus/HPE) Data Protector restores the system with the Disk Agent and the
command-line interface carried in the rescue image (ReaR 2.7 prep/DP, verify/DP, restore/DP, finalize/DP).

    prep      <omni>/lbin/vbda, <omni>/bin/omnidb and <omni>/bin/omnir must be installed, <omni> being the first
              COPY_AS_IS_DP entry (/opt/omni); COPY_AS_IS_DP minus COPY_AS_IS_EXCLUDE_DP, join, head and col go in
    verify    <client config>/cell_server (the second COPY_AS_IS_DP entry, /etc/opt/omni/client) names the cell
              manager; `omnidb -filesystem` lists this host's objects, `omnidb -filesystem HOST:FS 'LABEL'` their
              sessions: the newest session is restored
    restore   one omnir call, ReaR's: omnir [-filesystem HOST:FS 'LABEL' -session ID -full
              -omit_unrequired_object_versions -no_resumable -overwrite -tree FS -into TARGET -sparse -target HOST]...
              for the objects that are mount points of the layout; exit 10 means warnings
    finalize  the client certificates (sscertificates/localhost_{cert,key}.pem) go into the restored system

Not run against a real cell manager: verified with stand-ins that print the documented output.
"""

from __future__ import annotations

import logging
import re
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

from rearbuild.backup.vendor import Payload, client_env
from rearbuild.config.model import Config
from rearbuild.errors import UserError
from rearbuild.log import notice
from rearbuild.run import run

log = logging.getLogger("rearbuild.backup")

PRODUCT = "Data Protector Disk Agent and User Interface"
OMNIR_WARNINGS = 10  # omnir(1): "finished with warnings"
_OBJECT = re.compile(r"^(\S+:\S+)\s+'([^']*)'")  # `omnidb -filesystem`: HOST:MOUNTPOINT 'LABEL' ...
_CERTIFICATES = ("sscertificates/localhost_cert.pem", "sscertificates/localhost_key.pem")


@dataclass(frozen=True)
class DpSettings:
    payload: Payload
    omni_dir: Path  # /opt/omni
    client_dir: Path  # /etc/opt/omni/client

    @property
    def omnidb(self) -> str:
        return str(self.omni_dir / "bin/omnidb")

    @property
    def omnir(self) -> str:
        return str(self.omni_dir / "bin/omnir")


def settings(config: Config) -> DpSettings:
    dirs = config.items("COPY_AS_IS_DP")
    omni = Path(dirs[0]) if dirs else Path("/opt/omni")
    client = Path(dirs[1]) if len(dirs) > 1 else Path("/etc/opt/omni/client")
    return DpSettings(
        payload=Payload(
            method="DP",
            product=PRODUCT,
            programs=("join", "head", "col"),
            files=dirs,
            exclude=config.items("COPY_AS_IS_EXCLUDE_DP"),
            required=(str(omni / "lbin/vbda"), str(omni / "bin/omnidb"), str(omni / "bin/omnir")),
            ld_library_path=config.text("DP_LD_LIBRARY_PATH"),
        ),
        omni_dir=omni,
        client_dir=client,
    )


@dataclass(frozen=True)
class DpObject:
    host_fs: str  # HOST:/mountpoint
    label: str

    @property
    def mountpoint(self) -> str:
        return self.host_fs.split(":", 1)[1]


def cell_server(s: DpSettings) -> str:
    path = s.client_dir / "cell_server"
    name = path.read_text().strip() if path.is_file() else ""
    if not name:
        raise UserError(
            f"{path} names no Data Protector cell manager; nothing was written",
            hint="import this client into the cell (it writes cell_server), then run mkrescue again",
        )
    return name


def _omnidb(s: DpSettings, *args: str) -> str:
    result = run([s.omnidb, *args], env=client_env(s.payload.ld_library_path), check=False)
    if result.returncode != 0:
        raise UserError(
            f"omnidb {' '.join(args)} failed (exit {result.returncode}); nothing was written",
            hint="check that root is in the cell's user list and the cell manager is reachable",
        )
    return result.out


def objects(s: DpSettings, hostname: str | None = None) -> tuple[DpObject, ...]:
    host = hostname or socket.gethostname()
    found = []
    for line in _omnidb(s, "-filesystem").splitlines():
        match = _OBJECT.match(line.strip())
        if match and match.group(1).startswith(host + ":"):
            found.append(DpObject(match.group(1), match.group(2)))
    if not found:
        raise UserError(f"the Data Protector database has no file system backup of {host}; nothing was written")
    return tuple(found)


def _version_key(session: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", session))


def latest_session(s: DpSettings, found: tuple[DpObject, ...]) -> str:
    """ReaR: the sessions of every object, sort -u -r -V, the first."""
    sessions: set[str] = set()
    for obj in found:
        for line in _omnidb(s, "-filesystem", obj.host_fs, obj.label).splitlines():
            words = line.split()
            if words and not line.startswith(("SessionID", "=")) and re.fullmatch(r"\d{4}/\d\d/\d\d-\d+", words[0]):
                sessions.add(words[0])
    if not sessions:
        raise UserError("Data Protector lists no session for this host's objects; nothing was written")
    return max(sessions, key=_version_key)


def restore_argv(
    s: DpSettings, found: tuple[DpObject, ...], session: str, target: Path, mountpoints: tuple[str, ...] | None,
    hostname: str | None = None,
) -> tuple[str, ...]:  # fmt: skip
    host = hostname or socket.gethostname()
    argv = [s.omnir]
    for obj in found:
        if mountpoints is not None and obj.mountpoint not in mountpoints:
            continue
        argv += ["-filesystem", obj.host_fs, obj.label, "-session", session, "-full",
                 "-omit_unrequired_object_versions", "-no_resumable", "-overwrite", "-tree", obj.mountpoint,
                 "-into", str(target), "-sparse", "-target", host]  # fmt: skip
    if len(argv) == 1:
        raise UserError("no Data Protector object is a file system of the layout; nothing to restore")
    return tuple(argv)


def restore(s: DpSettings, argv: tuple[str, ...]) -> None:
    notice("restoring with Data Protector (progress in the Data Protector GUI)")
    result = run(argv, env=client_env(s.payload.ld_library_path), check=False)
    if result.returncode == OMNIR_WARNINGS:
        log.warning("omnir finished with warnings: %s", result.out.strip().splitlines()[-1:] or "")
    elif result.returncode != 0:
        raise UserError(
            f"omnir failed (exit {result.returncode}): the restore is incomplete",
            hint="restore the session from the Data Protector GUI into the recreated system, then continue",
        )


def copy_certificates(s: DpSettings, target: Path) -> tuple[str, ...]:
    """Data Protector leaves the client certificates out of its backups: the rescue image's copies go back."""
    copied = []
    for name in _CERTIFICATES:
        source = s.client_dir / name
        if source.is_file():
            into = target / str(source).lstrip("/")
            into.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into)
            copied.append(str(source))
    return tuple(copied)
