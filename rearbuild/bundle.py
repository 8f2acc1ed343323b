"""A bundle: everything a build needs from a host, so another machine builds the same image without it.

`rearbuild collect --bundle PATH` writes it; `rearbuild build PATH` reads it. It holds the manifest, every file
the manifest lists, the kernel image and the user's configuration files exactly as they go into the image (the
backup's encryption key already blanked: it never enters a bundle), all content-addressed by sha256 under
objects/, and an index (bundle.json) naming the manifest, the kernel and the configuration files by hash.

PATH is a directory, or one file when it ends in .tar: a reproducible tar (names sorted, fixed time, owner and
mode), so the same host gives the same bytes. Loading checks the format version and hashes every object: a
tampered, truncated or incomplete bundle is refused with a message naming what is wrong.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rearbuild.build.cpio import Entry, Kind
from rearbuild.checksum import sha256_bytes, sha256_file
from rearbuild.config.bashstate import Value
from rearbuild.errors import UserError
from rearbuild.manifest import EntryKind, Manifest, object_path, verify_bundle

FORMAT = "rearbuild-bundle"
FORMAT_VERSION = 1
INDEX = "bundle.json"
_OBJECT_RE = re.compile(r"^objects/([0-9a-f]{2})/\1[0-9a-f]{62}$")
_HINT = "the bundle is damaged or was changed: collect it again with `rearbuild collect --bundle`"


def is_tar(path: Path) -> bool:
    return path.name.endswith(".tar")


@dataclass(frozen=True)
class Bundle:
    """A loaded and verified bundle: `root` is the directory its objects are in."""

    root: Path
    manifest: Manifest
    kernel: Path
    config: tuple[Entry, ...]
    # Manifest paths that are one file (hard links) on the host, each group named by its first path: the image
    # keeps them one inode, and the bundle's objects, one per content, cannot tell hard links from equal copies.
    links: Mapping[str, str] = field(default_factory=dict)
    # The host's kernel parameters that COPY_KERNEL_PARAMETERS carries into the image: the builder's own
    # /proc/cmdline says nothing about the host.
    cmdline: tuple[str, ...] = ()

    def object(self, sha256: str) -> Path:
        return object_path(self.root, sha256)


def _contents(entry: Entry) -> bytes:
    if entry.data is not None:
        return entry.data
    if entry.source is None:
        raise UserError(f"configuration file {entry.path} has no contents")
    return entry.source.read_bytes()


_Objects = dict[str, Path | bytes]  # sha256 -> a host file or bytes


def _objects(manifest: Manifest, kernel: Path, config: Sequence[Entry]) -> tuple[dict[str, Any], _Objects]:
    """The index and every object."""
    objects: _Objects = {}
    for record in manifest.files:
        if record.kind is EntryKind.FILE and record.sha256 is not None and record.source is not None:
            objects.setdefault(record.sha256, Path(record.source))
    manifest_bytes = manifest.dumps().encode()
    objects[sha256_bytes(manifest_bytes)] = manifest_bytes
    kernel_sha = sha256_file(kernel)
    objects.setdefault(kernel_sha, kernel)
    config_index: list[dict[str, Any]] = []
    for entry in config:
        item: dict[str, Any] = {"path": entry.path, "kind": entry.kind.name, "mode": f"{entry.mode:04o}"}
        if entry.kind is Kind.FILE:
            data = _contents(entry)
            item["sha256"] = sha256_bytes(data)
            objects.setdefault(item["sha256"], data)
        elif entry.kind is Kind.SYMLINK:
            item["target"] = entry.target
        elif entry.kind is not Kind.DIRECTORY:
            raise UserError(f"configuration entry {entry.path} is a {entry.kind.name}: a bundle carries no devices")
        config_index.append(item)
    index = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "manifest": sha256_bytes(manifest_bytes),
        "kernel": kernel_sha,
        "config": config_index,
        "links": _host_links(manifest),
    }
    return index, objects


def _host_links(manifest: Manifest) -> list[list[str]]:
    """Groups of the manifest's files that are one inode on the host (rearbuild.build.cpio links them)."""
    groups: dict[tuple[int, int], list[str]] = {}
    for record in manifest.files:
        if record.kind is EntryKind.FILE and record.source is not None:
            st = os.stat(record.source)
            if st.st_nlink > 1:
                groups.setdefault((st.st_dev, st.st_ino), []).append(record.path)
    return sorted(paths for paths in groups.values() if len(paths) > 1)


def _links(manifest: Manifest, where: Path, groups: Any) -> dict[str, str]:
    """Each linked path -> its group's first path; a group must be files of one content."""
    links: dict[str, str] = {}
    if not isinstance(groups, list):
        raise UserError(f"{where}: {INDEX} lacks its list of hard links", hint=_HINT)
    for group in groups:
        records = [manifest.file(p) if isinstance(p, str) else None for p in group] if isinstance(group, list) else []
        hashes = {r.sha256 for r in records if r is not None and r.kind is EntryKind.FILE}
        if len(records) < 2 or None in records or len(hashes) != 1:
            raise UserError(f"{where}: {INDEX} links {group!r}, which are not files of one content", hint=_HINT)
        links.update((p, group[0]) for p in group)
    return links

def _index_bytes(index: dict[str, Any]) -> bytes:
    return (json.dumps(index, indent=1, sort_keys=True) + "\n").encode()


def write_bundle(
    manifest: Manifest, kernel: Path, config: Sequence[Entry], dest: Path, *, cmdline: Sequence[str] = ()
) -> None:
    """Write the bundle to `dest`: a directory, or a reproducible tar when the name ends in .tar.
    cmdline: the host's kernel parameters the image copies (COPY_KERNEL_PARAMETERS)."""
    index, objects = _objects(manifest, kernel, config)
    index["cmdline"] = list(cmdline)
    if is_tar(dest):
        _write_tar(dest, index, objects)
    else:
        _write_dir(dest, index, objects)


def _write_dir(dest: Path, index: dict[str, Any], objects: _Objects) -> None:
    # 0700, as the manifest is 0600: the configuration in it may hold passwords (BACKUP_URL, ...).
    dest.mkdir(mode=0o700, parents=True, exist_ok=True)
    dest.chmod(0o700)
    for sha256, content in objects.items():
        path = object_path(dest, sha256)
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        # Copies, not hard links: a bundle must not change when the host's file is rewritten in place.
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            shutil.copyfile(content, path)
    (dest / INDEX).write_bytes(_index_bytes(index))


def _member(name: str, size: int) -> tarfile.TarInfo:
    # Fixed owner, mode and time (0, the epoch start): the tar depends on the contents only.
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _write_tar(dest: Path, index: dict[str, Any], objects: _Objects) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    index_bytes = _index_bytes(index)
    # USTAR: object names are 76 characters, below its limit of 100, and it has no time stamps beyond mtime.
    # 0600, as the manifest: the configuration in it may hold passwords (BACKUP_URL, ...).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out, tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        tar.addfile(_member(INDEX, len(index_bytes)), io.BytesIO(index_bytes))
        for sha256 in sorted(objects):
            name = object_path(Path(), sha256).as_posix()
            content = objects[sha256]
            if isinstance(content, bytes):
                tar.addfile(_member(name, len(content)), io.BytesIO(content))
            else:
                with content.open("rb") as source:
                    tar.addfile(_member(name, os.fstat(source.fileno()).st_size), source)
    tmp.replace(dest)


def _extract(tar_path: Path, work: Path) -> Path:
    """Unpack a tar bundle into work/bundle; only the index and object files are accepted."""
    root = work / "bundle"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    _check_end_of_archive(tar_path)
    try:
        with tarfile.open(tar_path, "r:") as tar:
            for member in _members(tar, tar_path):
                # Written by hand, not tar.extract: only the checked name, a plain file, no owner or mode from it.
                source = tar.extractfile(member)
                if source is None:
                    raise UserError(f"bundle {tar_path}: {member.name} has no contents", hint=_HINT)
                dest = root / member.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                with source, dest.open("wb") as out:
                    shutil.copyfileobj(source, out)
    except (tarfile.TarError, EOFError) as exc:
        raise UserError(f"bundle {tar_path} is not a complete tar file ({exc})", hint=_HINT) from exc
    except OSError as exc:
        raise UserError(f"cannot read bundle {tar_path}: {exc.strerror}") from exc
    return root


# POSIX.1 ustar (pax(1), "ustar Interchange Format"): the archive is 512-byte blocks and ends with two blocks of
# zeros. tarfile reads a file cut at a member boundary as a shorter, valid archive, so the end is checked first.
TAR_BLOCK = 512
END_OF_ARCHIVE = 2 * TAR_BLOCK


def _check_end_of_archive(tar_path: Path) -> None:
    try:
        with tar_path.open("rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(size - END_OF_ARCHIVE, 0))
            tail = f.read(END_OF_ARCHIVE)
    except OSError as exc:
        raise UserError(f"cannot read bundle {tar_path}: {exc.strerror}") from exc
    if size % TAR_BLOCK or size < END_OF_ARCHIVE or tail.count(0) != END_OF_ARCHIVE:
        raise UserError(f"bundle {tar_path} is not a complete tar file (it does not end with the end-of-archive "
                        "marker: cut short?)", hint=_HINT)  # fmt: skip


def _members(tar: tarfile.TarFile, tar_path: Path) -> Iterator[tarfile.TarInfo]:
    for member in tar:
        if not member.isfile() or (member.name != INDEX and not _OBJECT_RE.match(member.name)):
            raise UserError(f"bundle {tar_path} holds {member.name!r}, which is no part of a bundle", hint=_HINT)
        yield member


def _read_index(root: Path, where: Path) -> dict[str, Any]:
    try:
        data = json.loads((root / INDEX).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{where} is not a rearbuild bundle: it has no {INDEX}", hint=_HINT) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{where}: {INDEX} cannot be read ({exc})", hint=_HINT) from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UserError(f"{where} is not a rearbuild bundle", hint=_HINT)
    if data.get("version") != FORMAT_VERSION:
        raise UserError(
            f"{where} is a bundle of format version {data.get('version')}, this rearbuild reads version "
            f"{FORMAT_VERSION}",
            hint="collect it again with this version of rearbuild",
        )
    return data


def _verified(root: Path, where: Path, sha256: Any, what: str) -> Path:
    if not isinstance(sha256, str) or not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise UserError(f"{where}: {INDEX} names {what} by a bad hash {sha256!r}", hint=_HINT)
    path = object_path(root, sha256)
    if not path.is_file():
        raise UserError(f"bundle {where} lacks {what} (object {sha256[:12]})", hint=_HINT)
    actual = sha256_file(path)
    if actual != sha256:
        raise UserError(
            f"bundle {where}: the object of {what} does not match its sha256 "
            f"({actual[:12]} instead of {sha256[:12]}): tampered or damaged",
            hint=_HINT,
        )
    return path


def _config_entry(root: Path, where: Path, item: Any) -> Entry:
    if not isinstance(item, dict) or not isinstance(item.get("path"), str):
        raise UserError(f"{where}: {INDEX} has a bad configuration entry", hint=_HINT)
    path = item["path"]
    if not path.startswith("etc/rear/") and path != "etc/rear":
        raise UserError(f"{where}: configuration entry {path!r} is outside etc/rear", hint=_HINT)
    try:
        kind, mode = Kind[str(item.get("kind"))], int(str(item.get("mode")), 8)
    except (KeyError, ValueError):
        raise UserError(f"{where}: configuration entry {path} has a bad kind or mode", hint=_HINT) from None
    if kind is Kind.FILE:
        # By its hash, not the extracted file's inode: the build cache then keys this content alike for every build.
        source = _verified(root, where, item.get("sha256"), path)
        return Entry.file(path, source, mode, sha256=item["sha256"], size=source.stat().st_size)
    if kind is Kind.SYMLINK and isinstance(item.get("target"), str) and item["target"]:
        return Entry.symlink(path, item["target"])
    if kind is Kind.DIRECTORY:
        return Entry.directory(path, mode)
    raise UserError(f"{where}: configuration entry {path} is neither file, directory nor symlink", hint=_HINT)


def load_bundle(path: Path, work: Path) -> Bundle:
    """Read and verify a bundle (a tar is unpacked below `work`). Every object is hashed before it is used."""
    if is_tar(path):
        if not path.is_file():
            raise UserError(f"bundle {path} does not exist", hint="give the .tar `rearbuild collect --bundle` wrote")
        root = _extract(path, work)
    else:
        if not path.is_dir():
            raise UserError(f"bundle {path} does not exist", hint="give the path `rearbuild collect --bundle` wrote")
        root = path
    index = _read_index(root, path)
    manifest_path = _verified(root, path, index.get("manifest"), "the manifest")
    manifest = Manifest.read(manifest_path)
    kernel = _verified(root, path, index.get("kernel"), f"the kernel {manifest.kernel_file}")
    config_items = index.get("config")
    if not isinstance(config_items, list):
        raise UserError(f"{path}: {INDEX} lacks its list of configuration files", hint=_HINT)
    config = tuple(_config_entry(root, path, item) for item in config_items)
    links = _links(manifest, path, index.get("links"))
    cmdline = index.get("cmdline")
    if not isinstance(cmdline, list) or not all(isinstance(w, str) and w.split() == [w] for w in cmdline):
        raise UserError(f"{path}: {INDEX} has no list of kernel parameters", hint=_HINT)
    verify_bundle(manifest, root)
    return Bundle(root=root, manifest=manifest, kernel=kernel, config=config, links=links, cmdline=tuple(cmdline))


# What the builder decides, not the host: where the results go. Everything else of the host's effective
# configuration is used as recorded, so the image equals the one the host would build.
BUILDER_DECIDES = frozenset({"OUTPUT_URL", "ISO_DIR", "S3_ENDPOINT_URL"})  # S3_ENDPOINT_URL: for OUTPUT_URL=s3://


def host_settings(manifest: Manifest) -> dict[str, Value]:
    """The host's configuration as recorded in its manifest, less what the builder decides."""
    return {k: v for k, v in manifest.config.items() if k not in BUILDER_DECIDES}
