"""Making a BACKUP_URL reachable as a directory, by how its scheme is reached (rearbuild.url's registry):

    Reach.LOCAL           file:///dir: the directory itself
    Reach.DEVICE          usb:///dev/disk/by-label/REAR-000: the disk's file system, mounted at $BUILD_DIR/outputfs
                          for the run and unmounted at its end, even on failure
    Reach.RESCUE_MEDIUM   iso:///backup: in the rescue system the ISO is found by its volume label ISO_VOLID and
                          mounted read-only (mkbackup writes it into the ISO instead)
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from rearbuild.errors import UserError
from rearbuild.run import run
from rearbuild.url import Reach, Url

log = logging.getLogger("rearbuild.backup")


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
def reachable(url: Url, mountpoint: Path, *, write: bool, iso_volid: str, options: str = "") -> Iterator[Path]:
    """Make the location reachable as a directory for the duration of the block; unmount whatever was mounted,
    also when the block fails. mountpoint must be below the build area ($BUILD_DIR/outputfs)."""
    match url.scheme.reach:
        case Reach.LOCAL:
            yield Path(url.path)
            return
        case Reach.DEVICE:
            device = resolve_device(str(url.path))
            if not os.path.exists(device):
                raise UserError(
                    f"BACKUP_URL={url.text}: {device} does not exist",
                    hint="plug in the disk, or format one with a file system labelled REAR-000 "
                    "(mkfs.ext4 -L REAR-000 /dev/sdX1)",
                )
            _mount(device, mountpoint, read_only=not write, options=options)
        case Reach.RESCUE_MEDIUM:
            if write:
                raise UserError("BACKUP_URL=iso:// is written into the rescue ISO, not mounted")
            _mount(find_iso_device(iso_volid), mountpoint, read_only=True, options="", fstype="iso9660")
        case _:
            # Url.parse refuses every scheme rearbuild cannot reach yet
            raise UserError(f"BACKUP_URL={url.text}: {url.scheme.reach.value} is not implemented yet")
    try:
        yield mountpoint
    finally:
        _umount(mountpoint)
