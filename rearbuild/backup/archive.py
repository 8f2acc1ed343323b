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

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rearbuild.backup.pipeline import Step
from rearbuild.compression import Codec
from rearbuild.errors import UserError

# The codecs BACKUP_PROG_COMPRESS may name (the programs are in every rescue image that restores such a backup).
BACKUP_CODECS = (Codec.GZIP, Codec.ZSTD, Codec.XZ, Codec.BZIP2, Codec.NONE)


def parse_compression(word: str) -> Codec:
    """rearbuild's BACKUP_PROG_COMPRESS word as a codec."""
    text = word.strip().lower()
    for codec in BACKUP_CODECS:
        if codec.word == text:
            return codec
    raise UserError(
        f"BACKUP_PROG_COMPRESS={word!r} is not a compression rearbuild knows",
        hint="use gzip, zstd, xz, bzip2 or none",
    )


def compression_from_tar_options(options: Sequence[str]) -> Codec:
    """ReaR's BACKUP_PROG_COMPRESS_OPTIONS (tar's compression options) as a codec."""
    found = {_TAR_OPTIONS.get(o) for o in options}
    if None in found or len(found) > 1:
        raise UserError(
            f"BACKUP_PROG_COMPRESS_OPTIONS=( {' '.join(options)} ) is not one compression rearbuild knows",
            hint="use one of --gzip --zstd --xz --bzip2, or set BACKUP_PROG_COMPRESS=gzip|zstd|xz|bzip2|none",
        )
    return found.pop() if found else Codec.NONE  # type: ignore[return-value]  # None was excluded above


# gzip has no threads; pigz writes the same gzip format on every core (pigz(1)), which plain gzip -d reads.
PARALLEL_GZIP = "pigz"


def compress_step(codec: Codec) -> Step | None:
    """The backup's compressor, on every core when it can be: zstd and xz with -T0, gzip as pigz when installed
    (the restore decompresses with the codec's own program, which the rescue image carries)."""
    if codec is Codec.NONE:
        return None
    if codec is Codec.GZIP and shutil.which(PARALLEL_GZIP):
        return Step((PARALLEL_GZIP, "-c"))
    return Step(codec.pipe_compress_argv())


def decompress_step(codec: Codec) -> Step | None:
    return None if codec is Codec.NONE else Step(codec.pipe_decompress_argv())


_TAR_OPTIONS = {
    "--gzip": Codec.GZIP,
    "-z": Codec.GZIP,
    "--gunzip": Codec.GZIP,
    "--use-compress-program=gzip": Codec.GZIP,
    "--zstd": Codec.ZSTD,
    "--use-compress-program=zstd": Codec.ZSTD,
    "--xz": Codec.XZ,
    "-J": Codec.XZ,
    "--use-compress-program=xz": Codec.XZ,
    "--bzip2": Codec.BZIP2,
    "-j": Codec.BZIP2,
    "--use-compress-program=bzip2": Codec.BZIP2,
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
    compression: Codec
    suffix: str  # the compression's file suffix ('.gz'), ReaR's BACKUP_PROG_COMPRESS_SUFFIX
    encryption: Encryption | None = None
    base: str = "backup"
    tar_suffix: str = ".tar"

    @property
    def file_suffix(self) -> str:
        """'.tar.gz': ReaR's $BACKUP_PROG_SUFFIX$BACKUP_PROG_COMPRESS_SUFFIX, the end of every archive's name."""
        return f"{self.tar_suffix}{self.suffix}"

    @property
    def name(self) -> str:
        return f"{self.base}{self.file_suffix}"

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
        compress = compress_step(self.compression)
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
        decompress = decompress_step(self.compression)
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
