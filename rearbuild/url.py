"""URLs: OUTPUT_URL (where the results go) and BACKUP_URL (where a NETFS backup lives), one type with a registry
of schemes. Each scheme says whether it can be read and written, how it is made reachable (a local directory,
a mounted device, the rescue medium, a network mount, a tape, a program talking to a server), which programs
and kernel modules the rescue image needs for it, where ReaR accepts it and where rearbuild implements it.

    file:///dir                           a directory of this machine (OUTPUT_URL, BACKUP_URL)
    null                                  OUTPUT_URL only: the results stay where they were built (ReaR's null)
    usb:///dev/disk/by-label/REAR-000     BACKUP_URL: a disk's file system, mounted for the run; the archive is
                                          rear/$NETFS_PREFIX/ on it
    iso:///backup                         BACKUP_URL: inside the rescue ISO itself (mkbackup only); in the rescue
                                          system the ISO is found by its volume label ISO_VOLID
    tape:///dev/nst0                      BACKUP_URL: the archive is a file on the tape (rearbuild.backup.tape)
    s3://BUCKET/PREFIX                    OUTPUT_URL: an S3 bucket (rearbuild.output.stores.s3)
    http(s)://HOST/PATH                   OUTPUT_URL: an HTTP PUT / WebDAV server (rearbuild.output.stores.webdav)
    oci://REGISTRY/REPO[:TAG]             OUTPUT_URL: an OCI artifact in a registry (rearbuild.output.stores.oci)

The other schemes ReaR knows (nfs, cifs, sshfs, ftpfs, obdr, ... and sftp for OUTPUT_URL) are
registered and refused with a message naming the variable until rearbuild implements them.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Final
from urllib.parse import unquote, urlsplit

from rearbuild.errors import UserError

# Linux's limits on a path and on one name in it (include/uapi/linux/limits.h: PATH_MAX 4096 with its NUL,
# NAME_MAX 255): a longer location fails in the first system call, deep inside a backup.
PATH_MAX = 4096
NAME_MAX = 255


# scheme://user:password@host: what a log line must not carry
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


def redact_userinfo(text: str) -> str:
    """text with the user:password part of any URL in it replaced by ***@ (a command line that is logged)."""
    return _USERINFO.sub("***@", text)


class Use(enum.Enum):
    """The variable a URL comes from: what a user may write there and how a refusal reads."""

    OUTPUT = "OUTPUT_URL"
    BACKUP = "BACKUP_URL"

    @property
    def variable(self) -> str:
        return self.value

    @property
    def decodes_path(self) -> bool:
        """BACKUP_URL's path is percent-decoded (file:///srv/my%20backups); OUTPUT_URL's is taken as written,
        as ReaR does for both (its url_path is plain text)."""
        return self is Use.BACKUP

    @property
    def needs_directory(self) -> bool:
        """BACKUP_URL's path must be an absolute directory other than /: the backup excludes it and is kept in
        a directory of its own."""
        return self is Use.BACKUP

    def missing(self) -> UserError:
        if self is Use.BACKUP:
            return UserError(
                "BACKUP=NETFS needs BACKUP_URL",
                hint="set e.g. BACKUP_URL=file:///backup or usb:///dev/disk/by-label/REAR-000 in local.conf",
            )
        return UserError("OUTPUT_URL is empty", hint="set e.g. OUTPUT_URL=file:///directory, or null")

    def refuse(self, word: str, url: str) -> UserError:
        """A scheme rearbuild does not implement for this variable (yet)."""
        if self is Use.BACKUP:
            scheme = REGISTRY.get(word)
            known = "ReaR's" if scheme is not None and Use.BACKUP in scheme.spec.rear else "an unknown"
            return UserError(
                f"BACKUP_URL={url!r}: {known} scheme {word!r} is not supported yet by rearbuild's BACKUP=NETFS",
                hint="use file:///directory, usb:///dev/disk/by-label/REAR-000 or iso:///backup",
            )
        return UserError(
            f"OUTPUT_URL={url!r}: the scheme {word!r} is not supported by rearbuild yet",
            hint="use file:///directory, s3://, http(s):// or oci:// (nfs, cifs, usb, sftp ... are planned)",
        )


class Reach(enum.Enum):
    """How a location is made reachable as a directory (or why it is not one)."""

    LOCAL = "a directory of this machine"
    DEVICE = "a block device's file system, mounted for the run and unmounted at its end"
    RESCUE_MEDIUM = "the rescue medium, found by its volume label and mounted read-only"
    NETWORK = "a network or FUSE file system, mounted for the run"
    USER_MOUNT = "mounted and unmounted by the user's BACKUP_MOUNTCMD / BACKUP_UMOUNTCMD"
    STREAM = "a tape, written and read as a stream, never mounted"
    REMOTE = "a server a program copies to and from, never mounted"
    NOWHERE = "nothing: the results stay where they were built"

    @property
    def mounts(self) -> bool:
        """Whether the run must mount something to reach the location (and unmount it afterwards)."""
        return self in (Reach.DEVICE, Reach.RESCUE_MEDIUM, Reach.NETWORK, Reach.USER_MOUNT)


_BOTH = frozenset({Use.OUTPUT, Use.BACKUP})
_OUTPUT = frozenset({Use.OUTPUT})
_BACKUP = frozenset({Use.BACKUP})
_NONE: frozenset[Use] = frozenset()


@dataclass(frozen=True)
class SchemeSpec:
    """One scheme's entry in the registry."""

    word: str  # as written before "://"
    reach: Reach
    read: bool  # recovery can restore from it
    write: bool  # mkbackup / mkrescue can write to it
    # what the rescue image (and the host making the backup) needs to reach it
    programs: tuple[str, ...]
    modules: tuple[str, ...]
    rear: frozenset[Use]  # where ReaR accepts it
    implemented: frozenset[Use]  # where rearbuild accepts it

    @property
    def in_rescue_image(self) -> bool:
        """The data travels inside the rescue ISO, so only mkbackup (which builds the ISO) can write it."""
        return self.reach is Reach.RESCUE_MEDIUM


# Sources: ReaR's prep/NETFS/default/050_check_NETFS_requirements.sh (BACKUP_URL schemes and their programs),
# output/default/950_copy_result_files.sh (OUTPUT_URL: lftp for sftp/http(s), s3cmd for s3).
def _spec(
    word: str,
    reach: Reach,
    *,
    read: bool = True,
    write: bool = True,
    programs: tuple[str, ...] = (),
    modules: tuple[str, ...] = (),
    rear: frozenset[Use] = _BOTH,
    implemented: frozenset[Use] = _NONE,
) -> SchemeSpec:
    return SchemeSpec(word, reach, read, write, programs, modules, rear, implemented)


class Scheme(enum.Enum):
    """The schemes rearbuild knows; .spec says what each can do."""

    FILE = _spec("file", Reach.LOCAL, implemented=_BOTH)
    NULL = _spec("null", Reach.NOWHERE, read=False, write=False, rear=_OUTPUT, implemented=_OUTPUT)
    USB = _spec(
        "usb", Reach.DEVICE, programs=("mount", "umount", "blkid"), modules=("usb_storage", "uas"),
        # OUTPUT_URL=usb:// names the stick OUTPUT=USB writes (rearbuild.output.usb); nothing else is copied there
        implemented=_BOTH,
    )
    ISO = _spec(
        "iso", Reach.RESCUE_MEDIUM, programs=("mount", "umount", "blkid"), modules=("isofs", "sr_mod"),
        rear=_BACKUP, implemented=_BACKUP,
    )
    # ReaR's, not implemented by rearbuild yet
    NFS = _spec(
        "nfs", Reach.NETWORK, programs=("mount.nfs", "rpcbind", "rpc.statd", "showmount"),
        modules=("nfs", "nfsv4", "sunrpc"),
    )
    CIFS = _spec("cifs", Reach.NETWORK, programs=("mount.cifs",), modules=("cifs",))
    SSHFS = _spec("sshfs", Reach.NETWORK, programs=("sshfs", "ssh", "fusermount"), modules=("fuse",))
    FTPFS = _spec("ftpfs", Reach.NETWORK, programs=("curlftpfs", "fusermount"), modules=("fuse",))
    DAVFS = _spec("davfs", Reach.NETWORK, programs=("mount.davfs",), modules=("fuse",))
    GLUSTERFS = _spec("glusterfs", Reach.NETWORK, programs=("mount.glusterfs",), modules=("fuse",), rear=_BACKUP)
    CEPH = _spec("ceph", Reach.NETWORK, programs=("mount.ceph",), modules=("ceph",), rear=_BACKUP)
    # the archive is the (non-rewinding) tape device itself: rearbuild.backup.tape
    TAPE = _spec(
        "tape", Reach.STREAM, programs=("mt", "dd", "head"), modules=("st",), rear=_BACKUP, implemented=_BACKUP
    )
    OBDR = _spec("obdr", Reach.STREAM, programs=("mt", "sg_wr_mode"), modules=("st", "sg"), rear=_BACKUP)
    RSYNC = _spec("rsync", Reach.REMOTE, programs=("rsync", "ssh"))
    VAR = _spec("var", Reach.USER_MOUNT, rear=_BACKUP)
    SFTP = _spec("sftp", Reach.REMOTE, read=False, programs=("lftp",), rear=_OUTPUT)
    # rearbuild's artifact stores (rearbuild.output.stores): Python libraries, no programs. ReaR uses lftp, s3cmd.
    HTTP = _spec("http", Reach.REMOTE, read=False, rear=_OUTPUT, implemented=_OUTPUT)
    HTTPS = _spec("https", Reach.REMOTE, read=False, rear=_OUTPUT, implemented=_OUTPUT)
    S3 = _spec("s3", Reach.REMOTE, read=False, rear=_OUTPUT, implemented=_OUTPUT)
    OCI = _spec("oci", Reach.REMOTE, read=False, rear=_NONE, implemented=_OUTPUT)

    @property
    def spec(self) -> SchemeSpec:
        value: SchemeSpec = self.value
        return value

    @property
    def word(self) -> str:
        return self.spec.word

    @property
    def reach(self) -> Reach:
        return self.spec.reach

    @property
    def in_rescue_image(self) -> bool:
        """The archive travels inside the rescue ISO, so only mkbackup (which builds the ISO) can write it."""
        return self.spec.in_rescue_image

    @property
    def programs(self) -> tuple[str, ...]:
        return self.spec.programs

    @property
    def modules(self) -> tuple[str, ...]:
        return self.spec.modules

    def implemented_for(self, use: Use) -> bool:
        return use in self.spec.implemented

    @classmethod
    def of(cls, url: str) -> Scheme | None:
        """The scheme of a URL text, without checking the rest (None: none or an unknown one)."""
        try:
            word = urlsplit(url.strip()).scheme
        except ValueError:
            return None
        return REGISTRY.get(word)


REGISTRY: Final[Mapping[str, Scheme]] = {s.word: s for s in Scheme}


@dataclass(frozen=True)
class Url:
    scheme: Scheme
    # file: the directory; usb: the device; iso: the directory inside the ISO; null: /; a store: the path on it.
    path: PurePosixPath
    text: str
    host: str = ""  # a store's server (host[:port]), its bucket for s3

    @classmethod
    def parse(cls, url: str, use: Use) -> Url:
        """A URL of a scheme rearbuild implements for use; UserError naming the variable otherwise."""
        url = url.strip()
        if not url:
            raise use.missing()
        parts = urlsplit(url)
        if url == Scheme.NULL.word:
            # ReaR's OUTPUT_URL=null (no "://"): the results stay where they were built
            parts = parts._replace(scheme=url, path="")
        if not parts.scheme:
            raise UserError(f"{use.variable}={url!r} has no scheme", hint=f"write file://{url}")
        scheme = REGISTRY.get(parts.scheme)
        if scheme is None or not scheme.implemented_for(use):
            raise use.refuse(parts.scheme, url)
        if scheme.reach is Reach.NOWHERE:
            return cls(scheme, PurePosixPath("/"), url)  # null: whatever follows the scheme is ignored
        if scheme.reach is Reach.REMOTE:
            return cls._remote(scheme, parts.netloc, parts.path, url, use)
        if parts.netloc:
            raise UserError(
                f"{use.variable}={url!r}: {scheme.word} URLs have no host part",
                hint=f"write {scheme.word}:///absolute/path (three slashes)",
            )
        path = PurePosixPath(unquote(parts.path) if use.decodes_path else parts.path)
        too_long = [part for part in path.parts if len(os.fsencode(part)) > NAME_MAX]
        if len(os.fsencode(str(path))) >= PATH_MAX or too_long:
            raise UserError(
                f"{use.variable}={url[:80]!r}... is longer than Linux allows for a path "
                f"({PATH_MAX} bytes, {NAME_MAX} for one name)",
                hint=f"check {use.variable}: a value this long is usually a mistake in the configuration",
            )
        # the archive may fill the whole rescue medium, which is made for it
        if use.needs_directory and (
            not path.is_absolute() or (path == PurePosixPath("/") and not scheme.in_rescue_image)
        ):
            raise UserError(
                f"{use.variable}={url!r}: the path must be an absolute directory other than /",
                hint=f"write e.g. {scheme.word}:///backup",
            )
        return cls(scheme, path, url)

    @classmethod
    def _remote(cls, scheme: Scheme, netloc: str, path: str, url: str, use: Use) -> Url:
        if "@" in netloc:
            # the URL is logged and shown: credentials come from the places each store documents
            raise UserError(
                f"{use.variable}: credentials do not belong in the URL (it is logged)",
                hint="use ~/.netrc for http(s), the AWS environment or ~/.aws for s3, `docker login` for oci",
            )
        if not netloc:
            raise UserError(
                f"{use.variable}={url!r}: {scheme.word} URLs name a server (or bucket)",
                hint=f"write {scheme.word}://HOST/path",
            )
        return cls(scheme, PurePosixPath(path or "/"), url, netloc)

    def archive_dir(self, root: Path, prefix: str) -> Path:
        """The directory holding the data, given where the location is reachable (root: the directory itself
        for a local one, the mount point otherwise) and the prefix ($NETFS_PREFIX, $OUTPUT_PREFIX)."""
        match self.scheme.reach:
            case Reach.RESCUE_MEDIUM:
                return root / str(self.path).lstrip("/")
            case Reach.DEVICE:
                # ReaR's layout of a USB medium: everything below rear/
                return root / "rear" / prefix if prefix else root / "rear"
            case _:
                return root / prefix if prefix else root
