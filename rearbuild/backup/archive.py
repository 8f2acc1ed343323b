"""The backup archive's format: a tar stream (GNU tar, POSIX format so that xattrs, ACLs and SELinux labels
have a place), compressed by a separate program, optionally encrypted, written as backup.tar<suffix>.

Compression is ReaR's pair BACKUP_PROG_COMPRESS_OPTIONS/BACKUP_PROG_COMPRESS_SUFFIX (tar options), or
rearbuild's one word BACKUP_PROG_COMPRESS=gzip|zstd|xz|bzip2|none which sets both. It runs outside tar so that
the bytes tar produces (the uncompressed size, comparable with the used space of the file systems) can be
counted for the progress line.

Encryption is `openssl enc -aes-256-cbc -pbkdf2 -salt` (openssl-enc(1)); the key reaches openssl through its
environment (`-pass env:VAR`), never through the command line, which every user can read in /proc.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rearbuild.backup.pipeline import Step
from rearbuild.errors import UserError


class Compression(enum.Enum):
    GZIP = "gzip"
    ZSTD = "zstd"
    XZ = "xz"
    BZIP2 = "bzip2"
    NONE = "none"

    @classmethod
    def parse(cls, word: str) -> Compression:
        try:
            return cls(word.strip().lower())
        except ValueError:
            raise UserError(
                f"BACKUP_PROG_COMPRESS={word!r} is not a compression rearbuild knows",
                hint="use gzip, zstd, xz, bzip2 or none",
            ) from None

    @classmethod
    def from_tar_options(cls, options: Sequence[str]) -> Compression:
        """ReaR's BACKUP_PROG_COMPRESS_OPTIONS (tar's compression options) as a Compression."""
        found = {_TAR_OPTIONS.get(o) for o in options}
        if None in found or len(found) > 1:
            raise UserError(
                f"BACKUP_PROG_COMPRESS_OPTIONS=( {' '.join(options)} ) is not one compression rearbuild knows",
                hint="use one of --gzip --zstd --xz --bzip2, or set BACKUP_PROG_COMPRESS=gzip|zstd|xz|bzip2|none",
            )
        return found.pop() if found else cls.NONE  # type: ignore[return-value]  # None was excluded above

    @property
    def suffix(self) -> str:
        return _SUFFIXES[self]

    @property
    def program(self) -> str | None:
        return None if self is Compression.NONE else self.value

    def compress_step(self) -> Step | None:
        match self:
            case Compression.NONE:
                return None
            case Compression.ZSTD | Compression.XZ:
                # -T0: one thread per core; gzip and bzip2 have none (zstd(1), xz(1)).
                return Step((self.value, "-q", "-c", "-T0"))
            case _:
                return Step((self.value, "-c"))

    def decompress_step(self) -> Step | None:
        match self:
            case Compression.NONE:
                return None
            case _:
                return Step((self.value, "-q", "-d", "-c"))


_SUFFIXES = {
    Compression.GZIP: ".gz",
    Compression.ZSTD: ".zst",
    Compression.XZ: ".xz",
    Compression.BZIP2: ".bz2",
    Compression.NONE: "",
}
_TAR_OPTIONS = {
    "--gzip": Compression.GZIP,
    "-z": Compression.GZIP,
    "--gunzip": Compression.GZIP,
    "--use-compress-program=gzip": Compression.GZIP,
    "--zstd": Compression.ZSTD,
    "--use-compress-program=zstd": Compression.ZSTD,
    "--xz": Compression.XZ,
    "-J": Compression.XZ,
    "--use-compress-program=xz": Compression.XZ,
    "--bzip2": Compression.BZIP2,
    "-j": Compression.BZIP2,
    "--use-compress-program=bzip2": Compression.BZIP2,
}


# The variable through which openssl reads the key (-pass env:NAME): a name only this code sets.
KEY_VARIABLE = "REARBUILD_BACKUP_CRYPT_KEY"
_CIPHER = ("enc", "-aes-256-cbc", "-pbkdf2", "-salt", "-pass", f"env:{KEY_VARIABLE}")


@dataclass(frozen=True)
class Encryption:
    key: str = field(repr=False)

    def _env(self) -> dict[str, str]:
        return {**os.environ, KEY_VARIABLE: self.key}

    def encrypt_step(self) -> Step:
        return Step(("openssl", *_CIPHER), env=self._env())

    def decrypt_step(self) -> Step:
        return Step(("openssl", *_CIPHER, "-d"), env=self._env())


@dataclass(frozen=True)
class ArchiveFormat:
    compression: Compression
    suffix: str  # the compression's file suffix ('.gz'), ReaR's BACKUP_PROG_COMPRESS_SUFFIX
    encryption: Encryption | None = None
    base: str = "backup"
    tar_suffix: str = ".tar"

    @property
    def name(self) -> str:
        return f"{self.base}{self.tar_suffix}{self.suffix}"

    @property
    def checksum_name(self) -> str:
        return f"{self.name}.sha256"

    @property
    def programs(self) -> tuple[str, ...]:
        """What creating and reading it needs (on the host and in the rescue system)."""
        names = ["tar"]
        if self.compression.program:
            names.append(self.compression.program)
        if self.encryption is not None:
            names.append("openssl")
        return tuple(names)

    def write_steps(self, tar: Step) -> tuple[Step, ...]:
        """tar -c | compress | encrypt."""
        steps = [tar]
        compress = self.compression.compress_step()
        if compress:
            steps.append(compress)
        if self.encryption is not None:
            steps.append(self.encryption.encrypt_step())
        return tuple(steps)

    def read_steps(self) -> tuple[Step, ...]:
        """decrypt | decompress, in front of tar -x."""
        steps = []
        if self.encryption is not None:
            steps.append(self.encryption.decrypt_step())
        decompress = self.compression.decompress_step()
        if decompress:
            steps.append(decompress)
        return tuple(steps)


# What every backup keeps besides file contents (tar(1) of GNU tar 1.34): POSIX format for the extended headers,
# numeric owners (the rescue system's /etc/passwd is not the recovered one), sparse files as holes, every xattr
# namespace (user., trusted., security. incl. capabilities), ACLs and SELinux labels. Hard links are kept by tar
# whenever both names are in the archive.
_KEEP = ("--format=posix", "--numeric-owner", "--xattrs", "--xattrs-include=*", "--acls", "--selinux")

# tar's exit status 1 on create: "some files differ" (changed while being read) -- a warning, not a failure.
TAR_CHANGED_FILES = 1


def create_step(includes: Sequence[str], exclude_file: Path, options: Sequence[str]) -> Step:
    """tar writing the archive of `includes` to stdout (ReaR's backup/NETFS/default/500_make_backup.sh flags)."""
    argv = (
        "tar",
        "--create",
        "--file=-",
        *_KEEP,
        "--sparse",
        "--one-file-system",
        # Mount points below an include are archived as empty directories; no warning for each one.
        "--warning=no-xdev",
        "--warning=no-file-ignored",  # sockets
        "--ignore-failed-read",
        "--no-wildcards-match-slash",
        *options,
        f"--exclude-from={exclude_file}",
        "--directory=/",
        "--",
        *includes,
    )
    return Step(argv, ok_codes=(0, TAR_CHANGED_FILES))


def extract_step(target: Path, options: Sequence[str]) -> Step:
    """tar extracting stdin into target with owners, modes, xattrs, ACLs and labels as archived."""
    argv = (
        "tar",
        "--extract",
        "--file=-",
        *_KEEP,
        "--same-owner",
        "--preserve-permissions",
        # GNU tar is silent when a file system refuses an xattr (e.g. user.* on an old tmpfs): say so.
        "--warning=xattr-write",
        *options,
        f"--directory={target}",
    )
    return Step(argv)
