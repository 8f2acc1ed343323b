"""The ld.so emulation gives exactly what ldd gives, for every ELF program in /usr/bin and /usr/sbin here."""

from __future__ import annotations

import os
import re

import pytest

from rearbuild.collect.elf import ElfError, parse_elf
from rearbuild.collect.ldso.caps import LoaderCaps
from rearbuild.collect.ldso.disk import DiskTree
from rearbuild.collect.ldso.resolver import Resolver
from rearbuild.run import run

PROGRAM_DIRS = ("/usr/bin", "/usr/sbin")
HOST_LDSO = "/lib64/ld-linux-x86-64.so.2"

# ldd's two line shapes: "\tname => /path (0x...)" / "\tname => not found", and "\t/path (0x...)".
_ARROW = re.compile(r"\s*(\S+) => (?:(/\S+) \(0x|(not found))")
_BARE = re.compile(r"\s*(/\S+) \(0x")


def elf_programs() -> list[str]:
    """Regular ELF files (symlinks are the same files under another name) in the program directories."""
    found = []
    for directory in PROGRAM_DIRS:
        for name in sorted(os.listdir(directory)):
            path = f"{directory}/{name}"
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            try:
                info = parse_elf(path)
            except ElfError:
                continue  # asserted separately: no program here is corrupt
            if info is not None:
                found.append(path)
    return found


def ldd(path: str) -> tuple[set[str], bool]:
    """(paths ldd prints, plus NF:<name> for each "not found"; whether ldd calls it not dynamic).
    linux-vdso.so.1 is left out: the kernel maps it, there is no file to copy."""
    result = run(["ldd", path], check=False, timeout=30)
    if "not a dynamic executable" in result.out + result.err:
        return set(), True
    paths = set()
    for line in result.out.splitlines():
        if "linux-vdso.so" in line:
            continue
        if m := _ARROW.match(line):
            paths.add(m.group(2) if m.group(2) else "NF:" + m.group(1))
        elif m := _BARE.match(line):
            paths.add(m.group(1))
    return paths, False


@pytest.mark.slow
def test_no_program_is_corrupt() -> None:
    for directory in PROGRAM_DIRS:
        for name in os.listdir(directory):
            path = f"{directory}/{name}"
            if os.path.isfile(path):
                parse_elf(path)  # raises ElfError on a corrupt file


@pytest.mark.slow
def test_closure_equals_ldd_for_every_program() -> None:
    programs = elf_programs()
    assert len(programs) > 100, "expected a Debian system with many programs"
    tree = DiskTree("/")
    true_info = parse_elf("/bin/true")
    assert true_info is not None
    # ldd on this machine uses its CPU's glibc-hwcaps levels and AT_PLATFORM: ask the host ld.so for them.
    diagnostics = run([HOST_LDSO, "--list-diagnostics"], timeout=30).out
    caps = LoaderCaps.from_diagnostics(diagnostics, LoaderCaps.baseline(tree, true_info))
    # dlopen=False: KNOWN_DLOPENS and .note.dlopen libraries are loaded later by the program, ldd never
    # shows them.
    resolver = Resolver(tree, caps=caps, dlopen=False)

    compared = static = 0
    mismatches = []
    for path in programs:
        expected, not_dynamic = ldd(path)
        closure = resolver.closure([path])
        mine = {e.path for e in closure.entries if e.path != path}
        mine |= {"NF:" + u.soname for u in closure.unresolved}
        if not_dynamic:
            # Statically linked (busybox here): ldd prints "not a dynamic executable"; the closure must
            # be the program alone, with no interpreter and nothing unresolved.
            static += 1
            info = parse_elf(path)
            assert info is not None and info.interpreter is None and not info.needed, path
            assert mine == set(), path
            continue
        compared += 1
        if mine != expected:
            mismatches.append((path, sorted(expected - mine), sorted(mine - expected)))
    print(f"\nldd parity: {compared} dynamic programs compared, {static} static, {len(mismatches)} differ")
    assert mismatches == []
    assert compared > 100


@pytest.mark.slow
def test_closure_of_all_programs() -> None:
    # How fast: bench_collect.py prints the wall time of `rearbuild collect` (whose library closure this is)
    # against ReaR's ldd loop over the same programs.
    programs = elf_programs()
    closure = Resolver("/").closure(programs)
    print(f"\nclosure of {len(programs)} programs: {len(closure.entries)} files")
    assert "/lib/x86_64-linux-gnu/libc.so.6" in closure.paths
    assert any(e.name == "libgcc_s.so.1" for e in closure.entries)
