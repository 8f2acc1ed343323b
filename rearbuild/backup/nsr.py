"""BACKUP=NSR: Dell NetWorker (formerly EMC/Legato) restores the system with its client carried in the rescue image
(ReaR 2.7 prep/NSR, rescue/NSR, verify/NSR, restore/NSR; study §6 NSR).

    prep      nsrexecd (/usr/sbin or /opt/networker/sbin) and recover must be installed; COPY_AS_IS_NSR minus
              COPY_AS_IS_EXCLUDE_NSR and PROGS_NSR go into the image
    rescue    the server: NSRSERVER, else the first line of $NSR_ROOT_DIR/res/servers -> recovery/nsr_server;
              the save sets: `savefs -p -s SERVER`, its path= values -> recovery/nsr_paths
    restore   nsrexecd started (ReaR starts it at boot: 90-networker.sh), then
              recover -s SERVER -c HOSTNAME -d TARGET -a PATH... ; with NSR_CLIENT_MODE=y and
              NSR_CLIENT_REQUESTRESTORE=y the operator starts the restore on the server and confirms here

Not run against a real NetWorker server: verified with stand-ins that print the documented output.
"""

from __future__ import annotations

import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

from rearbuild.backup.vendor import Payload, client_env
from rearbuild.config.model import Config
from rearbuild.errors import UserError
from rearbuild.log import notice
from rearbuild.run import run

PRODUCT = "Dell NetWorker (NSR)"
SERVER_FILE = "nsr_server"  # in the state directory's recovery/, ReaR's names
PATHS_FILE = "nsr_paths"


@dataclass(frozen=True)
class NsrSettings:
    payload: Payload
    root_dir: Path  # NSR_ROOT_DIR
    server: str  # NSRSERVER
    client_mode: bool  # NSR_CLIENT_MODE
    operator_restores: bool  # NSR_CLIENT_REQUESTRESTORE


def _daemon() -> str:
    """nsrexecd: on PATH (/usr/sbin), else where older clients put it (ReaR checks both)."""
    legacy = "/opt/networker/sbin/nsrexecd"
    return legacy if shutil.which("nsrexecd") is None and os.access(legacy, os.X_OK) else "nsrexecd"


def settings(config: Config) -> NsrSettings:
    return NsrSettings(
        payload=Payload(
            method="NSR",
            product=PRODUCT,
            programs=(*config.items("PROGS_NSR"), "fmt"),
            files=config.items("COPY_AS_IS_NSR"),
            exclude=config.items("COPY_AS_IS_EXCLUDE_NSR"),
            required=(_daemon(), "recover", "savefs"),
        ),
        root_dir=Path(config.text("NSR_ROOT_DIR") or "/nsr"),
        server=config.text("NSRSERVER").strip(),
        client_mode=config.flag("NSR_CLIENT_MODE"),
        operator_restores=config.flag("NSR_CLIENT_MODE") and config.flag("NSR_CLIENT_REQUESTRESTORE"),
    )


def server_name(s: NsrSettings) -> str:
    """NSRSERVER, else the first server the client trusts ($NSR_ROOT_DIR/res/servers)."""
    if s.server:
        return s.server
    servers = s.root_dir / "res/servers"
    lines = servers.read_text().split() if servers.is_file() else []
    first = lines[0] if lines else ""
    if not first:
        raise UserError(
            f"the NetWorker server is not known: NSRSERVER is empty and {servers} names none",
            hint="set NSRSERVER=<server> in local.conf",
        )
    return first


def save_sets(server: str) -> tuple[str, ...]:
    """The client's file systems the server backs up: the path= values of `savefs -p -s SERVER`."""
    result = run(["savefs", "-p", "-s", server], check=False)
    paths = []
    for line in (result.out + result.err).splitlines():
        for field in line.replace(",", " ").split():
            if field.startswith("path="):
                paths.append(field[len("path=") :])
    if not paths:
        raise UserError(
            f"savefs -p -s {server} named no save set of this client (exit {result.returncode})",
            hint="check that this client is configured on the NetWorker server and nsrexecd runs",
        )
    return tuple(dict.fromkeys(paths))


def record(s: NsrSettings, recovery_dir: Path) -> tuple[str, tuple[str, ...]]:
    """mkrescue: write what the recovery needs (ReaR's nsr_server and nsr_paths) into recovery/."""
    server = server_name(s)
    recovery_dir.mkdir(parents=True, exist_ok=True)
    (recovery_dir / SERVER_FILE).write_text(server + "\n")
    paths = () if s.operator_restores else save_sets(server)
    (recovery_dir / PATHS_FILE).write_text(" ".join(paths) + "\n")
    notice("NetWorker server %s%s", server, f", save sets {' '.join(paths)}" if paths else "")
    return server, paths


def recorded(s: NsrSettings, recovery_dir: Path) -> tuple[str, tuple[str, ...]]:
    """recover: the server and save sets mkrescue recorded (NSRSERVER wins, as in ReaR)."""
    server_file, paths_file = recovery_dir / SERVER_FILE, recovery_dir / PATHS_FILE
    server = s.server or (server_file.read_text().strip() if server_file.is_file() else "")
    if not server:
        raise UserError("the NetWorker server is not known", hint="set NSRSERVER=<server> in local.conf")
    paths = tuple(paths_file.read_text().split()) if paths_file.is_file() else ()
    if not paths and not s.operator_restores:
        raise UserError(
            f"no NetWorker save sets recorded ({paths_file}): nothing to restore",
            hint="run rearbuild mkrescue again on the original system",
        )
    return server, paths


def recover_argv(server: str, paths: tuple[str, ...], target: Path, hostname: str | None = None) -> tuple[str, ...]:
    return ("recover", "-s", server, "-c", hostname or socket.gethostname(), "-d", str(target), "-a", *paths)


def _running(name: str) -> bool:
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == name:
                return True
        except OSError:
            continue  # the process ended meanwhile
    return False


def start_daemon(s: NsrSettings) -> None:
    """The client daemon the server talks to, as ReaR's 90-networker.sh starts it at boot of the rescue system:
    through nsr_envexec with nsrrc/networkerrc for a /usr/sbin install, else as it is. It daemonizes itself."""
    if _running("nsrexecd"):
        return
    envexec = Path("/opt/nsr/admin/nsr_envexec")
    argv: tuple[str, ...] = (_daemon(),)
    if envexec.is_file() and Path("/usr/sbin/nsrexecd").is_file():
        argv = (str(envexec), "-u", str(s.root_dir / "nsrrc"), "-s", "/opt/nsr/admin/networkerrc", "/usr/sbin/nsrexecd")
    notice("starting the NetWorker client daemon nsrexecd")
    result = run(argv, env=client_env(s.payload.ld_library_path), check=False, timeout=60)
    if result.returncode != 0:
        raise UserError(
            f"nsrexecd did not start (exit {result.returncode}); the NetWorker server cannot reach this client",
            hint="start it by hand (nsrexecd) in another terminal and run restoreonly",
        )


def restore(s: NsrSettings, server: str, paths: tuple[str, ...], target: Path) -> None:
    start_daemon(s)
    notice("restoring %s from NetWorker server %s into %s", " ".join(paths), server, target)
    result = run(recover_argv(server, paths, target), env=client_env(s.payload.ld_library_path), check=False)
    if result.returncode != 0:
        tail = (result.err or result.out).strip().splitlines()[-1:] or [""]
        raise UserError(
            f"recover from NetWorker server {server} failed (exit {result.returncode}): {tail[0]}",
            hint="check the server (nsrwatch -s SERVER) and restore from its console; the restore is incomplete",
        )
