"""BACKUP_URL: where a NETFS backup lives, one scheme per kind of place, each with its own behaviour.

    file:///dir                           a directory of this machine (a backup on a disk recovery recreates is
                                          warned about, not refused); the archive is <dir>/$NETFS_PREFIX/
    usb:///dev/disk/by-label/REAR-000     a disk's file system, mounted at $BUILD_DIR/outputfs for the run and
                                          unmounted at its end, even on failure; the archive is rear/$NETFS_PREFIX/
    iso:///backup                         inside the rescue ISO itself (mkbackup only); in the rescue system the
                                          ISO is found by its volume label ISO_VOLID and mounted read-only

The other schemes ReaR knows (nfs, cifs, sshfs, ftpfs, tape, ...) are refused with a message naming the variable.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from rearbuild.errors import UserError
from rearbuild.run import run

log = logging.getLogger("rearbuild.backup")

# Schemes ReaR's NETFS accepts that rearbuild does not implement yet
# (ReaR: prep/NETFS/default/050_check_NETFS_requirements.sh).
_REAR_SCHEMES = ("nfs", "cifs", "sshfs", "ftpfs", "tape", "obdr", "davfs", "glusterfs", "ceph", "rsync", "var")


class Scheme(enum.Enum):
    FILE = "file"
    USB = "usb"
    ISO = "iso"

    @classmethod
    def parse(cls, name: str, url: str) -> Scheme:
        try:
            return cls(name)
        except ValueError:
            pass
        known = "ReaR's" if name in _REAR_SCHEMES else "an unknown"
        raise UserError(
            f"BACKUP_URL={url!r}: {known} scheme {name!r} is not supported yet by rearbuild's BACKUP=NETFS",
            hint="use file:///directory, usb:///dev/disk/by-label/REAR-000 or iso:///backup",
        )

    @property
    def mounts_device(self) -> bool:
        """Whether the run must mount something to reach the archive (and unmount it afterwards)."""
        return self is not Scheme.FILE

    @property
    def in_rescue_image(self) -> bool:
        """The archive travels inside the rescue ISO, so only mkbackup (which builds the ISO) can write it."""
        return self is Scheme.ISO


@dataclass(frozen=True)
class BackupUrl:
    scheme: Scheme
    # file: the directory; usb: the device; iso: the directory inside the ISO.
    path: PurePosixPath
    text: str

    @classmethod
    def parse(cls, url: str) -> BackupUrl:
        url = url.strip()
        if not url:
            raise UserError(
                "BACKUP=NETFS needs BACKUP_URL",
                hint="set e.g. BACKUP_URL=file:///backup or usb:///dev/disk/by-label/REAR-000 in local.conf",
            )
        parts = urlsplit(url)
        if not parts.scheme:
            raise UserError(f"BACKUP_URL={url!r} has no scheme", hint=f"write file://{url}")
        scheme = Scheme.parse(parts.scheme, url)
        if parts.netloc:
            raise UserError(
                f"BACKUP_URL={url!r}: {scheme.value} URLs have no host part",
                hint=f"write {scheme.value}:///absolute/path (three slashes)",
            )
        path = PurePosixPath(unquote(parts.path))
        if not path.is_absolute() or (path == PurePosixPath("/") and scheme is not Scheme.ISO):
            raise UserError(
                f"BACKUP_URL={url!r}: the path must be an absolute directory other than /",
                hint=f"write e.g. {scheme.value}:///backup",
            )
        return cls(scheme, path, url)

    def archive_dir(self, root: Path, prefix: str) -> Path:
        """The directory holding the archive, given where the location is reachable (root)."""
        match self.scheme:
            case Scheme.FILE:
                return root / prefix if prefix else root
            case Scheme.USB:
                return root / "rear" / prefix if prefix else root / "rear"
            case Scheme.ISO:
                return root / str(self.path).lstrip("/")


def _mount(device: str, mountpoint: Path, *, read_only: bool, options: str, fstype: str | None = None) -> None:
    mountpoint.mkdir(parents=True, exist_ok=True)
    opts = ",".join(o for o in ("ro" if read_only else "", options) if o)
    argv = ["mount", *(["-t", fstype] if fstype else []), *(["-o", opts] if opts else []), device, str(mountpoint)]
    run(argv, hint=f"is {device} the right device, and is its file system driver available?")


def _umount(mountpoint: Path) -> None:
    result = run(["umount", str(mountpoint)], check=False)
    if result.returncode != 0:
        # A busy mount must not stay below the build area, which is removed recursively after the run.
        run(["umount", "--lazy", str(mountpoint)], check=False)
        log.warning("%s was busy and is unmounted lazily", mountpoint)
    with contextlib.suppress(OSError):
        mountpoint.rmdir()


def find_iso_device(volid: str) -> str:
    """The block device whose file system label is volid (the rescue ISO, ReaR: blkid -l -t LABEL=...)."""
    found = run(["blkid", "-l", "-o", "device", "-t", f"LABEL={volid}"], check=False).out.strip()
    if found:
        return found.splitlines()[0]
    # blkid's cache may miss a CD that appeared after boot; lsblk asks udev/sysfs directly.
    for line in run(["lsblk", "-n", "-r", "-p", "-o", "NAME,LABEL"], check=False).out.splitlines():
        name, _, label = line.partition(" ")
        if label.replace("\\x20", " ") == volid:
            return name
    raise UserError(
        f"no medium with the label {volid} (ISO_VOLID) found for BACKUP_URL=iso://",
        hint="insert the rescue ISO holding the backup (or attach it to the VM) and try again",
    )


# udev's symlinks and the blkid tag that finds the same device where there is no udev (the rescue system).
_BY_TAG = {"/dev/disk/by-label/": "LABEL", "/dev/disk/by-uuid/": "UUID", "/dev/disk/by-partlabel/": "PARTLABEL",
           "/dev/disk/by-partuuid/": "PARTUUID"}


def resolve_device(device: str) -> str:
    """A /dev/disk/by-*/ name as the device it names, also without udev (the rescue system has none): blkid
    finds a file system by its tag. Other names are returned as they are."""
    if os.path.exists(device):
        return device
    for prefix, tag in _BY_TAG.items():
        if device.startswith(prefix):
            # udev escapes blanks and slashes in these names as \x20 and \x2f (udev(7), "string escaping")
            value = device[len(prefix):].replace("\\x20", " ").replace("\\x2f", "/")
            found = run(["blkid", "-l", "-o", "device", "-t", f"{tag}={value}"], check=False).out.strip()
            if found:
                return found.splitlines()[0]
    return device


@contextlib.contextmanager
def reachable(url: BackupUrl, mountpoint: Path, *, write: bool, iso_volid: str, options: str = "") -> Iterator[Path]:
    """Make the location reachable as a directory for the duration of the block; unmount whatever was mounted,
    also when the block fails. mountpoint must be below the build area ($BUILD_DIR/outputfs)."""
    match url.scheme:
        case Scheme.FILE:
            yield Path(url.path)
            return
        case Scheme.USB:
            device = resolve_device(str(url.path))
            if not os.path.exists(device):
                raise UserError(
                    f"BACKUP_URL={url.text}: {device} does not exist",
                    hint="plug in the disk, or format one with a file system labelled REAR-000 "
                    "(mkfs.ext4 -L REAR-000 /dev/sdX1)",
                )
            _mount(device, mountpoint, read_only=not write, options=options)
        case Scheme.ISO:
            if write:
                raise UserError("BACKUP_URL=iso:// is written into the rescue ISO, not mounted")
            _mount(find_iso_device(iso_volid), mountpoint, read_only=True, options="", fstype="iso9660")
    try:
        yield mountpoint
    finally:
        _umount(mountpoint)
