"""The rescue rootfs put together from its three sources (rearbuild.build.rootfs explains the order): the
manifest's files, the skel/ layers, and the files generated for this image; then checked: every program finds its
libraries inside the image (ReaR: 990_verify_rootfs.sh runs ldd in a chroot; here each DT_NEEDED is resolved in
the composed entry list, no chroot, no ldd)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from rearbuild.build.cpio import Entry, Kind
from rearbuild.build.generated import generated_entries
from rearbuild.build.rootfs import BASE_DIRS, BASE_NODES, Rootfs, manifest_entries, skel_entries
from rearbuild.collect.accounts import merged
from rearbuild.collect.ldso.closure import Unresolved
from rearbuild.collect.ldso.mapped import ImageLink
from rearbuild.collect.ldso.verify import verify_rootfs
from rearbuild.manifest import Manifest, sources

# Programs in these directories must run in the rescue system; a library missing for anything else is a warning.
PROGRAM_DIRS = ("/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/")


def compose(
    manifest: Manifest,
    *,
    skel_dir: Path,
    skel_layers: Sequence[str],
    config: Sequence[Entry],
    share_dir: Path,
    package_dir: Path,
    epoch: int,
    modules_load: Sequence[str],
    bundle: Path | None = None,
    links: Mapping[str, str] | None = None,
) -> Rootfs:
    """config: the user's configuration (generated.config_entries, or a bundle's); bundle: where the manifest's
    files are read from instead of the host (rearbuild.manifest.sources); links: its hard link groups."""
    rootfs = Rootfs.empty()
    rootfs.extend(Entry.directory(d, 0o1777 if d == "tmp" else 0o755) for d in BASE_DIRS)
    rootfs.extend(BASE_NODES)
    rootfs.extend(manifest_entries(manifest, sources(manifest, bundle), links))
    rootfs.extend(skel_entries(skel_dir, skel_layers))
    rootfs.extend(cloned_accounts(rootfs, manifest.accounts))
    rootfs.extend(
        generated_entries(
            manifest=manifest,
            config=config,
            share_dir=share_dir,
            package_dir=package_dir,
            epoch=epoch,
            modules_load=modules_load,
            rescue_variables={"KERNEL_VERSION": manifest.kernel_version},
        )
    )
    return rootfs


def cloned_accounts(rootfs: Rootfs, accounts: Mapping[str, Sequence[str]]) -> list[Entry]:
    """The skeleton's etc/passwd and etc/group with the manifest's CLONE_USERS/CLONE_GROUPS lines added."""
    entries: list[Entry] = []
    for name in ("passwd", "group"):
        lines = accounts.get(name, ())
        skeleton = rootfs.entries.get(f"etc/{name}")
        if not lines or skeleton is None:
            continue
        data = skeleton.data if skeleton.data is not None else skeleton.source.read_bytes() if skeleton.source else b""
        entries.append(Entry.from_bytes(f"etc/{name}", merged(data, lines), skeleton.mode))
    return entries


def unresolved_libraries(rootfs: Rootfs) -> tuple[Unresolved, ...]:
    """Every DT_NEEDED of the image's ELF files that the image itself cannot satisfy."""
    mapping: dict[str, str | ImageLink] = {}
    for path, entry in rootfs.entries.items():
        if entry.kind is Kind.SYMLINK and entry.target:
            mapping["/" + path] = ImageLink(entry.target)
        elif entry.kind is Kind.FILE and entry.source is not None:
            mapping["/" + path] = str(entry.source)
    return verify_rootfs(mapping)
