"""Module indexes of the image: depmod over a staging tree of the chosen modules."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from rearbuild.collect.kmod.index import ModuleIndex
from rearbuild.run import run


@dataclass(frozen=True)
class IndexFile:
    source: Path  # generated in the staging directory
    target: PurePosixPath


# Index files copied from the host tree because depmod reads rather than writes them.
_COPIED_INDEXES = ("modules.builtin", "modules.builtin.modinfo")


def _index_key(index: ModuleIndex, names: Sequence[str]) -> str:
    digest = hashlib.sha256(index.version.encode())
    for name in names:
        st = index.file(name).stat()
        digest.update(f"{name}:{index.paths[name]}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    for filename in _COPIED_INDEXES:
        source = index.directory / filename
        if source.is_file():
            digest.update(f"{filename}:{source.stat().st_mtime_ns}".encode())
    return digest.hexdigest()


def write_module_indexes(index: ModuleIndex, modules: Iterable[str], staging: Path) -> tuple[IndexFile, ...]:
    """Generate the image's modules.dep(.bin), modules.alias(.bin), ... with depmod over a staging tree.

    staging/lib/modules/KVER gets a symlink per chosen module (to the host file: depmod follows them,
    no root and no copy needed), the host's modules.builtin(.modinfo) and a modules.order cut down to
    the chosen modules; `depmod -b staging KVER` then writes the indexes. Only the returned index files
    belong in the image; the module symlinks do not (copy ModuleFile.source instead). Afterwards
    `modprobe -d staging -S KVER NAME` resolves inside the staging tree, as modprobe in the image will.
    """
    names = sorted(set(modules) & set(index.paths), key=index.sort_key)
    root = staging / "lib/modules" / index.version
    # depmod costs most of a warm rebuild: reuse the indexes when the same modules of the same host files
    # were indexed before (the stamp records what they were made from).
    stamp = root / ".rearbuild-indexed"
    key = _index_key(index, names)
    if not (stamp.is_file() and stamp.read_text() == key):
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True, exist_ok=True)
        for name in names:
            link = root / index.paths[name]
            link.parent.mkdir(parents=True, exist_ok=True)
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(index.file(name))
        for filename in _COPIED_INDEXES:
            source = index.directory / filename
            if source.is_file():
                (root / filename).write_bytes(source.read_bytes())
        (root / "modules.order").write_text("".join(f"{index.paths[n]}\n" for n in names))
        with tempfile.TemporaryDirectory(prefix="rearbuild-depmod-") as empty_config:
            # -C: the host's depmod.d (search order, overrides) is about its full tree, not ours.
            run(
                ["depmod", "-C", empty_config, "-b", str(staging), index.version],
                hint="install kmod (apt-get install kmod), which provides depmod",
            )
        stamp.write_text(key)
    return tuple(
        IndexFile(path, PurePosixPath("lib/modules", index.version, path.name))
        for path in sorted(root.glob("modules.*"))
        if path.is_file() and not path.is_symlink()
    )
