"""The shared-library closure of programs, computed the way glibc's ld.so loads them, without running ldd.

Each root is its own process (a Process): its program interpreter, its DT_NEEDED entries breadth-first, then
(on request) what it dlopen()s and the glibc-hwcaps variants of what it loaded. A `#!` script root brings
its interpreter's closure.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from rearbuild.collect.elf import ElfClass, ElfError, ElfInfo
from rearbuild.collect.ldso.caps import LoaderCaps
from rearbuild.collect.ldso.closure import Closure, ClosureEntry, Reason, Unresolved
from rearbuild.collect.ldso.disk import DiskTree
from rearbuild.collect.ldso.load import load_dlopens, load_needed
from rearbuild.collect.ldso.state import LoadedObject, Process, SearchCache
from rearbuild.collect.ldso.tree import FileKind, ResolvedPath, Tree
from rearbuild.errors import UserError


class Resolver:
    """Computes closures inside one tree; parsed files and searches are cached across calls.

    caps: the target loader's substitutions and hwcaps; None derives a baseline per program.
    dlopen: add KNOWN_DLOPENS and `.note.dlopen` libraries. hwcaps_variants: add every glibc-hwcaps
    variant found next to a resolved library, for a rescue system whose CPU is not known yet.
    """

    def __init__(
        self,
        tree: Tree | str = "/",
        *,
        caps: LoaderCaps | None = None,
        dlopen: bool = True,
        hwcaps_variants: bool = False,
    ) -> None:
        self.tree = tree if isinstance(tree, Tree) else DiskTree(tree)
        self.caps = caps
        self.dlopen = dlopen
        self.hwcaps_variants = hwcaps_variants
        self._cache = SearchCache(self.tree)
        self._caps_cache: dict[tuple[int, ElfClass], LoaderCaps] = {}
        self._scripts_open: set[str] = set()  # `#!` scripts being followed, against interpreter loops

    # -- public -----------------------------------------------------------------------------------

    def closure(self, roots: Iterable[str]) -> Closure:
        """The files needed to run each root (image paths); each root is its own process."""
        entries: dict[str, ClosureEntry] = {}
        unresolved: dict[Unresolved, None] = {}
        for root in roots:
            for entry in self._root_closure(root, unresolved):
                entries.setdefault(entry.path, entry)
        return Closure(tuple(entries.values()), tuple(unresolved))

    # -- one process ------------------------------------------------------------------------------

    def _caps_for(self, info: ElfInfo) -> LoaderCaps:
        if self.caps is not None:
            return self.caps
        key = (info.machine, info.elf_class)
        if key not in self._caps_cache:
            self._caps_cache[key] = LoaderCaps.baseline(self.tree, info)
        return self._caps_cache[key]

    def _root_closure(self, root: str, unresolved: dict[Unresolved, None]) -> list[ClosureEntry]:
        resolved = self.tree.resolve(root)
        if resolved is None or resolved.kind is not FileKind.FILE:
            raise UserError(f"{root} does not exist in {self._where()}", hint="check the program list")
        out = [ClosureEntry(root, resolved.real_path, resolved.symlinks, Reason.ROOT, None, root)]
        info = self.tree.elf(resolved.real_path)
        if info is None:
            out.extend(self._script_interpreter(root, resolved.real_path, unresolved))
            return out
        if not info.is_dynamic and info.interpreter is None:
            return out  # statically linked: nothing to load
        # The kernel resolves the executable's symlinks (/proc/self/exe), so $ORIGIN of a program is the
        # directory of its real path; a library root (dlopen()ed by path) keeps its own directory.
        origin = os.path.dirname(resolved.real_path if info.interpreter else root)
        main = LoadedObject(root, resolved.real_path, info, None, origin)
        proc = Process.start(self._cache, self._caps_for(info), main, out, unresolved)
        if info.interpreter:
            interp = self.tree.resolve(info.interpreter)
            interp_info = self._elf_or_none(interp)
            if interp is None or interp_info is None:
                proc.report(Unresolved(root, info.interpreter, "program interpreter missing"))
            else:
                out.append(
                    ClosureEntry(
                        info.interpreter, interp.real_path, interp.symlinks, Reason.INTERPRETER, root,
                        info.interpreter,
                    )
                )  # fmt: skip
                rtld = LoadedObject(info.interpreter, interp.real_path, interp_info, main, "")
                proc.add_interpreter(info.interpreter, rtld)
        load_needed(proc, 0, Reason.NEEDED)
        if self.dlopen:
            load_dlopens(proc)
        if self.hwcaps_variants:
            out.extend(self._hwcaps_variants(out))
        return out

    def _hwcaps_variants(self, entries: list[ClosureEntry]) -> list[ClosureEntry]:
        extra = []
        for entry in entries:
            if entry.reason in (Reason.ROOT, Reason.HWCAPS_VARIANT) or "/glibc-hwcaps/" in entry.path:
                continue
            directory, name = os.path.split(entry.path)
            for level in self.tree.glob(f"{directory}/glibc-hwcaps/*/{name}"):
                r = self.tree.resolve(level)
                if r is not None and r.kind is FileKind.FILE:
                    extra.append(ClosureEntry(level, r.real_path, r.symlinks, Reason.HWCAPS_VARIANT, entry.path, name))
        return extra

    def _script_interpreter(self, root: str, real_path: str, unresolved: dict[Unresolved, None]) -> list[ClosureEntry]:
        """A `#!` script needs its interpreter (execve(2)), and the interpreter its closure."""
        data = self.tree.read_bytes(real_path)
        if data is None or not data.startswith(b"#!"):
            return []
        words = data[2:].split(b"\n", 1)[0].split()
        if not words:
            return []
        interp = words[0].decode("utf-8", "surrogateescape")
        if interp in self._scripts_open:
            unresolved.setdefault(Unresolved(root, interp, "script interpreter loop"))
            return []
        r = self.tree.resolve(interp)
        if r is None or r.kind is not FileKind.FILE:
            unresolved.setdefault(Unresolved(root, interp, "script interpreter missing"))
            return []
        entries = []
        self._scripts_open.add(root)
        try:
            interp_closure = self._root_closure(interp, unresolved)
        finally:
            self._scripts_open.discard(root)
        for entry in interp_closure:
            if entry.reason is Reason.ROOT:
                entry = ClosureEntry(entry.path, entry.real_path, entry.symlinks, Reason.INTERPRETER, root, interp)
            entries.append(entry)
        return entries

    def _elf_or_none(self, resolved: ResolvedPath | None) -> ElfInfo | None:
        if resolved is None or resolved.kind is not FileKind.FILE:
            return None
        try:
            return self.tree.elf(resolved.real_path)
        except ElfError:
            return None

    def _where(self) -> str:
        return self.tree.sysroot if isinstance(self.tree, DiskTree) else "the rootfs"


def resolve_closure(
    roots: Iterable[str],
    sysroot: str = "/",
    *,
    caps: LoaderCaps | None = None,
    dlopen: bool = True,
    hwcaps_variants: bool = False,
) -> Closure:
    """The closure of the given programs and libraries (absolute paths inside sysroot)."""
    return Resolver(sysroot, caps=caps, dlopen=dlopen, hwcaps_variants=hwcaps_variants).closure(roots)
