"""COPY_AS_IS: files and directories copied as they are (ReaR's build/GNU/Linux/100_copy_as_is.sh), with
globs, COPY_AS_IS_EXCLUDE, and ReaR's secrets rules: no private key without a passphrase goes into the image
unless SSH_UNPROTECTED_PRIVATE_KEYS says so (ReaR issue #1512, the SSH host key disclosure)."""

from __future__ import annotations

import base64
import fnmatch
import glob
import logging
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass

from rearbuild.collect.records import RecordMaker
from rearbuild.manifest import EntryKind, FileRecord

log = logging.getLogger("rearbuild.collect")

# A private key in PEM (RSA/EC/DSA/PKCS#8) or OpenSSH format starts with one of these lines.
_PRIVATE_KEY_MARKERS = (b"-----BEGIN OPENSSH PRIVATE KEY-----", b"PRIVATE KEY-----")


def is_unprotected_private_key(data: bytes) -> bool:
    """True for a private key readable without a passphrase.

    PEM keys say "ENCRYPTED" (Proc-Type: 4,ENCRYPTED or BEGIN ENCRYPTED PRIVATE KEY) when protected. OpenSSH's
    format (PROTOCOL.key in OpenSSH's sources) is "openssh-key-v1\\0" followed by a length-prefixed cipher
    name, "none" when the key is not encrypted.
    """
    head = data[:4096]
    if not any(marker in head for marker in _PRIVATE_KEY_MARKERS):
        return False
    if b"-----BEGIN OPENSSH PRIVATE KEY-----" in head:
        body = b"".join(line for line in data.splitlines() if line and not line.startswith(b"-----"))
        try:
            raw = base64.b64decode(body, validate=False)
        except ValueError:
            return True  # unreadable: treat as the dangerous case
        magic = b"openssh-key-v1\0"
        if not raw.startswith(magic) or len(raw) < len(magic) + 4:
            return True
        size = int.from_bytes(raw[len(magic) : len(magic) + 4], "big")
        cipher = raw[len(magic) + 4 : len(magic) + 4 + size]
        return cipher == b"none"
    return b"ENCRYPTED" not in head


@dataclass(frozen=True)
class CopyResult:
    records: tuple[FileRecord, ...]
    executables: tuple[str, ...]  # regular files with an x bit: their libraries are needed too
    skipped_keys: tuple[str, ...]  # private keys left out by the secrets rule
    missing: tuple[str, ...]  # entries that matched nothing


def _excluded(path: str, patterns: Sequence[str]) -> bool:
    # tar -X semantics as ReaR uses them: a pattern matches the path or any of its parent directories,
    # with or without the leading slash (ReaR mixes 'dev/shm/*' and "$VAR_DIR/output/*").
    rel = path.lstrip("/")
    candidates = [rel]
    parts = rel.split("/")
    candidates += ["/".join(parts[:i]) for i in range(1, len(parts))]
    for pattern in patterns:
        pat = pattern.lstrip("/")
        if any(fnmatch.fnmatchcase(c, pat) for c in candidates):
            return True
    return False


def copy_as_is(
    entries: Sequence[str], excludes: Sequence[str], maker: RecordMaker, *, allow_unprotected_keys: bool = False
) -> CopyResult:
    records: list[FileRecord] = []
    executables: list[str] = []
    skipped: list[str] = []
    missing: list[str] = []
    for entry in entries:
        matches = sorted(glob.glob(maker.host(entry))) if glob.has_magic(entry) else [maker.host(entry)]
        prefix = maker.host("/").rstrip("/")
        found = [m[len(prefix) :] or "/" for m in matches if os.path.lexists(m)]
        if not found:
            missing.append(entry)
            continue
        for top in found:
            reason = f"COPY_AS_IS {entry}"
            for path in _walk(top, maker):
                if _excluded(path, excludes):
                    continue
                made = maker.path(path, reason)
                for record in made:
                    if record.kind is EntryKind.FILE and record.source is not None:
                        if not allow_unprotected_keys and _is_key_file(record.source):
                            skipped.append(record.path)
                            break
                        if record.mode & 0o111:
                            executables.append(record.path)
                else:
                    records.extend(made)
    return CopyResult(tuple(records), tuple(dict.fromkeys(executables)), tuple(skipped), tuple(missing))


def _walk(top: str, maker: RecordMaker) -> list[str]:
    """top and, for a directory, everything below it; symlinks inside are not followed (tar semantics)."""
    paths = [top]
    resolved = maker.tree.resolve(top)
    if resolved is None or not os.path.isdir(maker.host(resolved.real_path)):
        return paths
    base = resolved.real_path
    for root, dirs, files in os.walk(maker.host(base)):
        dirs.sort()
        rel_root = base.rstrip("/") + root[len(maker.host(base)) :]
        for name in sorted(dirs) + sorted(files):
            paths.append(rel_root.rstrip("/") + "/" + name)
    return paths


def _is_key_file(source: str) -> bool:
    try:
        st = os.stat(source)
        if not stat.S_ISREG(st.st_mode) or st.st_size > 64 * 1024:
            return False
        with open(source, "rb") as f:
            return is_unprotected_private_key(f.read())
    except OSError:
        return False
