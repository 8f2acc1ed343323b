"""Servers the backup-method tests talk to, on 127.0.0.1 and free ports, started once per session and stopped
at its end: an OpenSSH server of our own (a temporary host key, one authorized key; the system's sshd is never
touched)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rearbuild.run import run

_START_TIMEOUT = 20  # seconds for sshd to listen on a busy 2-core machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else b''!r}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} does not listen on 127.0.0.1:{port}")


@dataclass(frozen=True)
class SshServer:
    port: int
    client_key: Path  # the private key the server accepts for root

    @property
    def rsh(self) -> str:
        """An ssh command for BORG_RSH / rsync -e: our key, no host-key questions, never a password prompt."""
        return (
            f"ssh -i {self.client_key} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no "
            "-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
        )


@pytest.fixture(scope="session")
def ssh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    root = tmp_path_factory.mktemp("sshd")
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / "host_key")])
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / "client_key")])
    (root / "authorized_keys").write_text((root / "client_key.pub").read_text())
    port = free_port()
    (root / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {root}/host_key\nPidFile {root}/sshd.pid\n"
        f"AuthorizedKeysFile {root}/authorized_keys\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nPrintMotd no\n"
    )
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege-separation directory (sshd(8))
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(root / "sshd_config")], stderr=subprocess.PIPE)
    try:
        wait_listening(port, proc, "sshd")
        yield SshServer(port, root / "client_key")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass(frozen=True)
class RsyncDaemon:
    port: int
    module_dir: Path  # the directory of module "backup"


@pytest.fixture(scope="session")
def rsync_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RsyncDaemon]:
    """rsync --daemon on 127.0.0.1 with one writable module `backup`, running as root so that owners, xattrs
    and ACLs are stored as they are."""
    root = tmp_path_factory.mktemp("rsyncd")
    (root / "backup").mkdir()
    port = free_port()
    (root / "rsyncd.conf").write_text(
        f"pid file = {root}/rsyncd.pid\nuse chroot = no\n[backup]\n    path = {root}/backup\n    read only = no\n"
        "    uid = root\n    gid = root\n"
    )
    proc = subprocess.Popen(
        ["rsync", "--daemon", "--no-detach", f"--config={root}/rsyncd.conf", f"--port={port}", "--address=127.0.0.1"],
        stderr=subprocess.PIPE,
    )
    try:
        wait_listening(port, proc, "rsync --daemon")
        yield RsyncDaemon(port, root / "backup")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass(frozen=True)
class Bacula:
    conf_dir: Path  # bacula-fd.conf, bacula-sd.conf, bconsole.conf (what a client's /etc/bacula holds)
    volumes: Path  # the storage daemon's Archive Device: the directory of file volumes
    tree: Path  # what the job backed up
    client: str
    director_port: int


_BACULA_PASSWORD = "rearbuild-test"  # only for our daemons on 127.0.0.1, alive for the test session


def _bacula_configs(root: Path, dir_port: int, sd_port: int, fd_port: int) -> dict[str, str]:
    pw, work = _BACULA_PASSWORD, root / "work"
    return {
        "bacula-dir.conf": f"""
Director {{ Name = t-dir; DIRport = {dir_port}; DirAddress = 127.0.0.1; QueryFile = "/etc/bacula/scripts/query.sql"
  WorkingDirectory = "{work}"; PidDirectory = "{work}"; Maximum Concurrent Jobs = 5; Password = "{pw}"
  Messages = Daemon }}
Job {{ Name = "Backup"; Type = Backup; Level = Full; Client = t-fd; FileSet = "Tree"; Storage = File1
  Messages = Standard; Pool = File; Priority = 10; Write Bootstrap = "{work}/%c.bsr" }}
Job {{ Name = "Restore"; Type = Restore; Client = t-fd; Storage = File1; FileSet = "Tree"; Pool = File
  Messages = Standard; Where = {root}/restores }}
FileSet {{ Name = "Tree"; Include {{ Options {{ signature = MD5; aclsupport = yes; xattrsupport = yes
  sparse = yes }}
  File = {root}/tree }} }}
Client {{ Name = t-fd; Address = 127.0.0.1; FDPort = {fd_port}; Catalog = MyCatalog; Password = "{pw}" }}
Storage {{ Name = File1; Address = 127.0.0.1; SDPort = {sd_port}; Password = "{pw}"; Device = FileDev
  Media Type = File1 }}
Catalog {{ Name = MyCatalog; dbname = "bacula"; dbuser = ""; dbpassword = "" }}
Messages {{ Name = Standard; console = all, !skipped, !saved; append = "{work}/log" = all, !skipped
  catalog = all }}
Messages {{ Name = Daemon; console = all, !skipped, !saved; append = "{work}/log" = all, !skipped }}
Pool {{ Name = File; Pool Type = Backup; Label Format = "Vol-"; Maximum Volumes = 10 }}
""",
        "bacula-sd.conf": f"""
Storage {{ Name = t-sd; SDPort = {sd_port}; SDAddress = 127.0.0.1; WorkingDirectory = "{work}"
  Pid Directory = "{work}" }}
Director {{ Name = t-dir; Password = "{pw}" }}
Device {{ Name = FileDev; Media Type = File1; Archive Device = {root}/volumes; LabelMedia = yes
  Random Access = Yes; AutomaticMount = yes; RemovableMedia = no; AlwaysOpen = no }}
Messages {{ Name = Standard; director = t-dir = all }}
""",
        "bacula-fd.conf": f"""
Director {{ Name = t-dir; Password = "{pw}" }}
FileDaemon {{ Name = t-fd; FDport = {fd_port}; FDAddress = 127.0.0.1; WorkingDirectory = {work}
  Pid Directory = {work} }}
Messages {{ Name = Standard; director = t-dir = all, !skipped, !restored }}
""",
        "bconsole.conf": f'Director {{ Name = t-dir; DIRport = {dir_port}; address = 127.0.0.1; Password = "{pw}" }}\n',
    }


@pytest.fixture(scope="session")
def bacula(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bacula]:
    """Debian's director (SQLite catalog), storage and file daemons on 127.0.0.1 with our own configuration,
    and one full backup of a tree made through them."""
    from tests.integration.test_netfs_roundtrip import make_tree

    root = tmp_path_factory.mktemp("bacula")
    director = shutil.which("bacula-dir", path=os.environ.get("PATH", "") + ":/usr/sbin")
    assert director is not None, "bacula-dir (Debian: bacula-director) is not installed"
    for name in ("conf", "work", "volumes", "restores"):
        (root / name).mkdir()
    make_tree(root / "tree")
    ports = {"dir": free_port(), "sd": free_port(), "fd": free_port()}
    for name, text in _bacula_configs(root, ports["dir"], ports["sd"], ports["fd"]).items():
        (root / "conf" / name).write_text(text)
        os.chmod(root / "conf" / name, 0o600)
    # the catalog: Bacula's own table script, pointed at our working directory
    script = Path("/usr/share/bacula-director/make_sqlite3_tables").read_text()
    script = script.replace("cd /var/lib/bacula", f"cd {root / 'work'}").replace("XXX_DBNAME_XXX", "bacula")
    run(["sh", "-c", script])
    daemons = [
        subprocess.Popen([director, "-f", "-c", str(root / "conf/bacula-dir.conf")], stderr=subprocess.PIPE),
        subprocess.Popen(["bacula-sd", "-f", "-c", str(root / "conf/bacula-sd.conf")], stderr=subprocess.PIPE),
        subprocess.Popen(["bacula-fd", "-f", "-c", str(root / "conf/bacula-fd.conf")], stderr=subprocess.PIPE),
    ]
    try:
        for proc, port in zip(daemons, ports.values(), strict=True):
            wait_listening(port, proc, proc.args[0] if isinstance(proc.args, list) else "bacula")
        console = ["bconsole", "-c", str(root / "conf/bconsole.conf")]
        out = run(console, input="run job=Backup yes\nwait\nmessages\nquit\n", timeout=300).out
        assert "Backup OK" in out, out[-2000:]
        yield Bacula(root / "conf", root / "volumes", root / "tree", "t-fd", ports["dir"])
    finally:
        for proc in daemons:
            proc.terminate()
        for proc in daemons:
            proc.wait(timeout=20)
