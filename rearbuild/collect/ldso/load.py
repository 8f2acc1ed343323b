"""Loading a process's libraries: DT_NEEDED breadth-first as elf/dl-deps.c, then what it dlopen()s.

PT_INTERP is loaded first (by the resolver); DT_NEEDED entries are loaded breadth-first, and a name is
loaded once per process (see Process).
"""

from __future__ import annotations

import os

from rearbuild.collect.ldso.closure import ClosureEntry, Reason, Unresolved
from rearbuild.collect.ldso.dlopens import KNOWN_DLOPENS
from rearbuild.collect.ldso.search import search
from rearbuild.collect.ldso.state import LoadedObject, Process


def load_needed(proc: Process, start: int, reason: Reason) -> None:
    """Breadth-first over loaded[start:], as elf/dl-deps.c _dl_map_object_deps walks its queue."""
    i = start
    while i < len(proc.loaded):
        obj = proc.loaded[i]
        i += 1
        for name in obj.info.needed:
            load(proc, name, obj, reason, True)


def load(proc: Process, name: str, requester: LoadedObject, reason: Reason, required: bool) -> bool:
    """Load `name` for `requester` unless the process has it; False if it cannot be found (reported
    when `required`)."""
    if proc.has(name):
        return True
    found = search(proc, name, requester)
    if isinstance(found, Unresolved):
        if required:
            proc.report(found)
        return False
    if proc.alias(name, found.resolved.real_path):
        return True
    info = proc.tree.elf(found.resolved.real_path)
    assert info is not None  # search only returns ELF files
    obj = LoadedObject(found.path, found.resolved.real_path, info, requester, os.path.dirname(found.path))
    entry = ClosureEntry(found.path, obj.real_path, found.resolved.symlinks, reason, requester.path, name)
    proc.add(name, obj, entry)
    return True


def load_dlopens(proc: Process) -> None:
    """KNOWN_DLOPENS and `.note.dlopen` libraries of every loaded object, each followed by its own
    dependencies."""
    i = 0
    while i < len(proc.loaded):
        obj = proc.loaded[i]
        i += 1
        wanted: list[tuple[tuple[str, ...], bool]] = []
        for rule in KNOWN_DLOPENS:
            if obj.info.soname == rule.loader:
                wanted.extend(((s,), rule.required) for s in rule.source.sonames(rule, proc.tree))
        for note in obj.info.dlopen:
            if note.priority.include_in_rescue:
                wanted.append((note.sonames, note.priority.missing_is_error))
        for alternatives, required in wanted:
            start = len(proc.loaded)
            ok = any(load(proc, s, obj, Reason.DLOPEN, False) for s in alternatives)
            if not ok and required and alternatives:
                proc.report(Unresolved(obj.path, alternatives[0], "dlopen() target not found"))
            # The dlopen()ed library's own dependencies, before looking at the next object.
            load_needed(proc, start, Reason.NEEDED)
