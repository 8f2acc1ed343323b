"""Servers the backup-method tests talk to, on 127.0.0.1 and free ports, started once per session and stopped
at its end: an OpenSSH server of our own (a temporary host key, one authorized key; the system's sshd is never
touched)."""

from __future__ import annotations

import os
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
