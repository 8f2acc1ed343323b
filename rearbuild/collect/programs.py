"""Programs and their shared libraries (PROGS, REQUIRED_PROGS, LIBS, executables of COPY_AS_IS), resolved the
way ld.so does (rearbuild.collect.ldso), without running ldd or anything else per binary."""

from __future__ import annotations

import glob
from collections.abc import Sequence
from dataclasses import dataclass

from rearbuild.collect.ldso.closure import Unresolved
from rearbuild.collect.ldso.resolver import Resolver
from rearbuild.collect.ldso.which import find_program
from rearbuild.collect.records import RecordMaker
from rearbuild.errors import UserError
from rearbuild.manifest import FileRecord

# PATH of the rescue system and of the lookup on the host (ReaR's get_path uses the caller's PATH; a fixed one
# keeps collection reproducible whatever the user's shell had).
SEARCH_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


@dataclass(frozen=True)
class ProgramResult:
    records: tuple[FileRecord, ...]
    found: tuple[str, ...]  # image paths of the programs
    missing: tuple[str, ...]  # optional programs not on this host
    unresolved: tuple[Unresolved, ...]


def collect_programs(
    progs: Sequence[str],
    required: Sequence[str],
    libs: Sequence[str],
    extra_executables: Sequence[str],
    maker: RecordMaker,
) -> ProgramResult:
    tree = maker.tree
    found: dict[str, str] = {}
    missing_required: list[str] = []
    missing: list[str] = []
    for name in dict.fromkeys([*required, *progs]):
        if not name:
            continue
        path = find_program(name, SEARCH_PATH, tree)
        if path is None:
            (missing_required if name in required else missing).append(name)
        else:
            found[path] = f"program {name}" + (" (required)" if name in required else "")
    if missing_required:
        raise UserError(
            f"required program{'s' if len(missing_required) > 1 else ''} not found on this host: "
            + ", ".join(missing_required),
            hint="install them, or remove them from REQUIRED_PROGS if the rescue system can do without",
        )
    lib_paths: list[str] = []
    for pattern in libs:
        matches = sorted(glob.glob(maker.host(pattern))) if glob.has_magic(pattern) else [maker.host(pattern)]
        prefix = maker.host("/").rstrip("/")
        hits = [m[len(prefix) :] for m in matches if tree.resolve(m[len(prefix) :] or "/") is not None]
        if not hits:
            raise UserError(f"LIBS entry {pattern!r} matches no file", hint="fix or remove it in LIBS")
        lib_paths.extend(hits)
    roots = [*found, *lib_paths, *(e for e in extra_executables if e not in found)]
    closure = Resolver(tree).closure(roots)
    records: list[FileRecord] = []
    for entry in closure.entries:
        reason = found.get(entry.path) or (f"LIBS {entry.path}" if entry.path in lib_paths else entry.why)
        records.extend(maker.symlinks(entry.symlinks, reason))
        real = maker.real(entry.real_path, reason)
        if real is not None:
            records.append(real)
    return ProgramResult(tuple(records), tuple(found), tuple(missing), tuple(closure.unresolved))
