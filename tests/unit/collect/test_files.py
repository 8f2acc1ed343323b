"""COPY_AS_IS in a sysroot: globs, exclusions, symlinks kept as symlinks, and no private key without a
passphrase (ReaR #1512)."""

from __future__ import annotations

import base64
import os
import struct
from pathlib import Path

from rearbuild.collect.files import copy_as_is, is_unprotected_private_key
from rearbuild.collect.hashcache import HashCache
from rearbuild.collect.ldso.disk import DiskTree
from rearbuild.collect.records import RecordMaker
from rearbuild.manifest import EntryKind


def _openssh_key(cipher: bytes) -> bytes:
    # PROTOCOL.key: "openssh-key-v1\0", then the cipher name as an SSH string (uint32 length + bytes)
    raw = b"openssh-key-v1\0" + struct.pack(">I", len(cipher)) + cipher + b"\0" * 32
    body = base64.b64encode(raw)
    return b"-----BEGIN OPENSSH PRIVATE KEY-----\n" + body + b"\n-----END OPENSSH PRIVATE KEY-----\n"


def test_private_key_detection() -> None:
    assert is_unprotected_private_key(_openssh_key(b"none"))
    assert not is_unprotected_private_key(_openssh_key(b"aes256-ctr"))
    assert is_unprotected_private_key(b"-----BEGIN RSA PRIVATE KEY-----\nMIIE...\n")
    assert not is_unprotected_private_key(b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n")
    assert not is_unprotected_private_key(b"ssh-ed25519 AAAA... user@host\n")


def _sysroot(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "usr/lib/app").mkdir(parents=True)
    (root / "usr/lib/app/data.txt").write_text("data")
    (root / "usr/lib/app/run.sh").write_text("#!/bin/sh\n")
    (root / "usr/lib/app/run.sh").chmod(0o755)
    (root / "usr/lib/app/cache").mkdir()
    (root / "usr/lib/app/cache/big").write_text("x" * 100)
    os.symlink("usr/lib", root / "lib")
    os.symlink("data.txt", root / "usr/lib/app/current")
    (root / "etc/ssh").mkdir(parents=True)
    (root / "etc/ssh/ssh_host_ed25519_key").write_bytes(_openssh_key(b"none"))
    (root / "etc/ssh/ssh_host_ed25519_key.pub").write_text("ssh-ed25519 AAAA host\n")
    (root / "etc/ssh/sshd_config").write_text("PermitRootLogin yes\n")
    return root


def test_copy_as_is_in_a_sysroot(tmp_path: Path) -> None:
    root = _sysroot(tmp_path)
    maker = RecordMaker(DiskTree(root), HashCache(None))
    result = copy_as_is(["/lib/app", "/etc/ssh/*", "/nothing/here"], ["usr/lib/app/cache"], maker)
    by_path = {r.path: r for r in result.records}
    # the path went through the /lib -> usr/lib symlink: both the link and the real files are there
    assert by_path["/lib"].kind is EntryKind.SYMLINK and by_path["/lib"].target == "usr/lib"
    assert by_path["/usr/lib/app/data.txt"].source == str(root / "usr/lib/app/data.txt")
    assert by_path["/usr/lib/app/current"].target == "data.txt"
    assert "/usr/lib/app/cache/big" not in by_path and "/usr/lib/app/cache" not in by_path  # excluded
    assert result.executables == ("/usr/lib/app/run.sh",)
    # the unprotected host key is left out, the public key and the config are not
    assert "/etc/ssh/ssh_host_ed25519_key" not in by_path
    assert result.skipped_keys == ("/etc/ssh/ssh_host_ed25519_key",)
    assert "/etc/ssh/ssh_host_ed25519_key.pub" in by_path and "/etc/ssh/sshd_config" in by_path
    assert result.missing == ("/nothing/here",)
    allowed = copy_as_is(["/etc/ssh/*"], [], maker, allow_unprotected_keys=True)
    assert "/etc/ssh/ssh_host_ed25519_key" in {r.path for r in allowed.records}
