"""Where ld.so finds a library name: the directory search of dl-load.c _dl_map_object, with its
substitutions ($ORIGIN, $LIB, $PLATFORM) and glibc-hwcaps subdirectories.

Search order for a name without '/': if the requesting object has no DT_RUNPATH, the DT_RPATH of the
requester, of the object that loaded it, and so on up to the executable; then (LD_LIBRARY_PATH, ignored: a
rescue system does not have the build shell's environment) the requester's own DT_RUNPATH; then the ld.so
cache, emulated by reading /etc/ld.so.conf and its includes; then the trusted system directories.
DF_1_NODEFLIB skips the last two. A candidate of the wrong ELF class or machine is skipped and the search
goes on (dl-load.c open_verify); any other unusable file (not ELF, wrong byte order or OS ABI) stops the
search for that name.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from rearbuild.collect.elf import ElfError
from rearbuild.collect.ldso.caps import LoaderCaps
from rearbuild.collect.ldso.closure import Unresolved
from rearbuild.collect.ldso.conf import looks_like_cached_library
from rearbuild.collect.ldso.state import Found, LoadedObject, Process
from rearbuild.collect.ldso.tree import FileKind


def search(proc: Process, name: str, obj: LoadedObject) -> Found | Unresolved:
    """The file ld.so opens for `name` requested by `obj` in this process (cached across processes)."""
    compat = proc.compat
    results = proc.cache.results
    if "/" in name:
        path = expand(name, obj, proc.caps)
        if not path.startswith("/"):
            return Unresolved(obj.path, name, "relative path depends on the working directory")
        key: tuple[object, ...] = ("path", path, compat)
        if key not in results:
            results[key] = _try_dirs(proc, name, [os.path.dirname(path)], obj, False)
        return _retarget(results[key], obj)
    rpath = rpath_chain(proc, obj)
    runpath = path_dirs(obj.info.runpath, obj, proc.caps) if obj.info.runpath else ()
    key = (name, rpath, runpath, obj.info.nodeflib, compat, proc.caps)
    if key not in results:
        results[key] = _search_uncached(proc, name, obj, rpath, runpath)
    return _retarget(results[key], obj)


def _retarget(result: Found | Unresolved, obj: LoadedObject) -> Found | Unresolved:
    if isinstance(result, Unresolved) and result.requester != obj.path:
        return Unresolved(obj.path, result.soname, result.detail)
    return result


def _search_uncached(
    proc: Process, name: str, obj: LoadedObject, rpath: tuple[str, ...], runpath: tuple[str, ...]
) -> Found | Unresolved:
    caps = proc.caps
    for dirs in (rpath, runpath):
        found = _try_dirs(proc, name, with_hwcaps(dirs, caps), obj, False)
        if not (isinstance(found, Unresolved) and found.detail == "not found"):
            return found
    if obj.info.nodeflib:
        return Unresolved(obj.path, name, "not found (DF_1_NODEFLIB)")
    # The cache: glibc-hwcaps entries of every directory first, by priority (elf/dl-cache.c), then the
    # plain ones; only names ldconfig would have recorded.
    if looks_like_cached_library(name):
        cache_dirs = tuple(dict.fromkeys(proc.cache.ld_so_conf() + caps.trusted_dirs))
        hw = [f"{d}/glibc-hwcaps/{level}" for level in caps.hwcaps for d in cache_dirs]
        found = _try_dirs(proc, name, [*hw, *cache_dirs], obj, True)
        if not (isinstance(found, Unresolved) and found.detail == "not found"):
            return found
    return _try_dirs(proc, name, with_hwcaps(caps.trusted_dirs, caps), obj, False)


def with_hwcaps(dirs: Sequence[str], caps: LoaderCaps) -> list[str]:
    """Every directory preceded by its glibc-hwcaps subdirectories, by priority."""
    out: list[str] = []
    for d in dirs:
        out.extend(f"{d}/glibc-hwcaps/{level}" for level in caps.hwcaps)
        out.append(d)
    return out


def _try_dirs(
    proc: Process, name: str, dirs: Sequence[str], obj: LoadedObject, soname_must_match: bool
) -> Found | Unresolved:
    base = os.path.basename(name)
    main = proc.main
    for d in dirs:
        path = (d.rstrip("/") + "/" + base) if d != "/" else "/" + base
        resolved = proc.tree.resolve(path)
        if resolved is None or resolved.kind is not FileKind.FILE:
            continue
        try:
            info = proc.tree.elf(resolved.real_path)
        except ElfError as exc:
            return Unresolved(obj.path, name, f"{path}: {exc.message}")
        if info is None:
            return Unresolved(obj.path, name, f"{path}: invalid ELF header")
        if info.elf_class is not main.info.elf_class or info.machine != main.info.machine:
            continue  # not fatal in open_verify: multilib systems hold both classes
        if not info.compatible_with(main.info):
            return Unresolved(obj.path, name, f"{path}: ELF byte order or OS ABI does not match")
        if soname_must_match and (info.soname or base) != base:
            continue  # ldconfig keys the cache by DT_SONAME
        return Found(path, resolved)
    return Unresolved(obj.path, name, "not found")


def expand(text: str, obj: LoadedObject, caps: LoaderCaps) -> str:
    """Substitute $ORIGIN, $LIB, $PLATFORM (and their ${} forms) like dl-load.c _dl_dst_substitute."""
    for token, value in (("ORIGIN", obj.origin), ("LIB", caps.lib), ("PLATFORM", caps.platform)):
        text = text.replace("${" + token + "}", value)
        text = _replace_token(text, "$" + token, value)
    return text


def _replace_token(text: str, token: str, value: str) -> str:
    """Replace `$NAME` only where the next character cannot continue a name ($LIBX is not $LIB)."""
    out = []
    i = 0
    while True:
        j = text.find(token, i)
        if j < 0:
            out.append(text[i:])
            return "".join(out)
        end = j + len(token)
        if end < len(text) and (text[end].isalnum() or text[end] == "_"):
            out.append(text[i:end])
        else:
            out.append(text[i:j] + value)
        i = end


def path_dirs(value: str, obj: LoadedObject, caps: LoaderCaps) -> tuple[str, ...]:
    """A DT_RPATH/DT_RUNPATH list as directories. Relative entries (also the empty one, meaning the
    current directory) depend on where the program is started from and cannot be followed here."""
    dirs = []
    for part in expand(value, obj, caps).split(":"):
        if part.startswith("/"):
            dirs.append(os.path.normpath(part))
    return tuple(dirs)


def rpath_chain(proc: Process, obj: LoadedObject) -> tuple[str, ...]:
    """DT_RPATH of obj, of the object that loaded it, ..., of the executable (dl-load.c)."""
    if obj.info.runpath is not None:
        return ()
    main = proc.main
    dirs: list[str] = []
    chain: LoadedObject | None = obj
    seen_main = False
    while chain is not None:
        if chain.info.effective_rpath:
            dirs.extend(path_dirs(chain.info.effective_rpath, chain, proc.caps))
        seen_main |= chain is main
        chain = chain.loader
    if not seen_main and main.info.effective_rpath:
        dirs.extend(path_dirs(main.info.effective_rpath, main, proc.caps))
    return tuple(dirs)
