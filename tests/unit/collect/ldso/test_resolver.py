"""Closures of programs (rearbuild.collect.ldso.resolver): hwcaps variants, `#!` scripts, and real programs
built with gcc compared with what the real ld.so (ldd) does (slow)."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
from pathlib import Path

import pytest

from rearbuild.collect.elf import ElfClass, parse_elf, parse_elf_bytes
from rearbuild.collect.ldso.caps import LoaderCaps
from rearbuild.collect.ldso.disk import DiskTree
from rearbuild.collect.ldso.resolver import Resolver, resolve_closure
from rearbuild.collect.ldso.tree import Symlink
from rearbuild.run import run
from tests.unit.collect.elffiles import INTERP, make_elf
from tests.unit.collect.ldso.sysroot import exe, put


def test_hwcaps_variants_are_added_on_request(sysroot: Path) -> None:
    ml = "/usr/lib/x86_64-linux-gnu"
    put(sysroot, f"{ml}/glibc-hwcaps/x86-64-v3/libfoo.so.1", make_elf(soname="libfoo.so.1"))
    put(sysroot, "/usr/bin/prog", exe(needed=("libfoo.so.1",)))
    baseline = resolve_closure(["/usr/bin/prog"], str(sysroot), dlopen=False)
    assert "/lib/x86_64-linux-gnu/libfoo.so.1" in baseline.paths  # a rescue CPU may lack x86-64-v3
    both = resolve_closure(["/usr/bin/prog"], str(sysroot), dlopen=False, hwcaps_variants=True)
    assert "/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libfoo.so.1" in both.paths
    info = parse_elf_bytes(exe())
    assert info is not None
    v3 = dataclasses.replace(LoaderCaps.baseline(DiskTree(sysroot), info), hwcaps=("x86-64-v3",))
    on_v3 = resolve_closure(["/usr/bin/prog"], str(sysroot), dlopen=False, caps=v3)
    assert "/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libfoo.so.1" in on_v3.paths


def test_script_root_pulls_in_its_interpreter(sysroot: Path) -> None:
    put(sysroot, "/usr/bin/sh", exe(needed=("libc.so.6",)))
    put(sysroot, "/usr/bin/script", b"#!/bin/sh -e\ntrue\n")
    closure = resolve_closure(["/usr/bin/script"], str(sysroot), dlopen=False)
    assert {"/bin/sh", "/lib/x86_64-linux-gnu/libc.so.6", INTERP} <= closure.paths


# -- real programs built with gcc (slow) --------------------------------------------------------------


def gcc(*args: str | Path, cwd: Path) -> None:
    run(["gcc", *[str(a) for a in args]], cwd=cwd, timeout=60)


def ldd_paths(path: Path) -> set[str]:
    """What ldd prints: resolved paths, plus NF:<name> for "not found"; vdso left out."""
    out = run(["ldd", str(path)], check=False, timeout=30).out
    found = set()
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) => (\S+)", line)
        if m and "linux-vdso" not in m.group(1):
            found.add("NF:" + m.group(1) if m.group(2) == "not" else m.group(2))
        elif m2 := re.match(r"\s*(/\S+) \(0x", line):
            found.add(m2.group(1))
    return found


NOTE_C = r"""
#define JSON "[{\"feature\":\"f\",\"priority\":\"required\",\"soname\":[\"libb.so\"]}]"
struct dlnote { unsigned namesz, descsz, type; char name[4]; char desc[(sizeof(JSON) + 3) & ~3]; };
__attribute__((section(".note.dlopen"), used, aligned(4)))
static const struct dlnote note = { 4, sizeof(note.desc), 0x407c0c0a, "FDO", JSON };
int main(void) { return 0; }
"""


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
def test_gcc_built_programs_match_ldd(tmp_path: Path) -> None:
    (tmp_path / "b.c").write_text("int b(void) { return 2; }\n")
    (tmp_path / "a.c").write_text("int b(void); int a(void) { return b(); }\n")
    (tmp_path / "m.c").write_text("int a(void); int main(void) { return a(); }\n")
    (tmp_path / "n.c").write_text(NOTE_C)
    lib = tmp_path / "lib"
    lib.mkdir()
    gcc("-shared", "-fPIC", "-o", lib / "libb.so.1.0", "b.c", "-Wl,-soname,libb.so", cwd=tmp_path)
    os.symlink("libb.so.1.0", lib / "libb.so")
    gcc("-shared", "-fPIC", "-o", lib / "liba.so", "a.c", f"-L{lib}", "-lb", "-Wl,-soname,liba.so", cwd=tmp_path)
    common = ["m.c", f"-L{lib}", "-la", "-Wl,--allow-shlib-undefined"]
    gcc("-o", "with-rpath", *common, "-Wl,--disable-new-dtags,-rpath,$ORIGIN/lib", cwd=tmp_path)
    gcc("-o", "with-runpath", *common, "-Wl,--enable-new-dtags,-rpath,$ORIGIN/lib", cwd=tmp_path)
    gcc("-o", "with-note", "n.c", cwd=tmp_path)

    resolver = Resolver("/", dlopen=False)
    for name in ("with-rpath", "with-runpath"):
        path = tmp_path / name
        closure = resolver.closure([str(path)])
        mine = {e.path for e in closure.entries if e.path != str(path)}
        mine |= {"NF:" + u.soname for u in closure.unresolved}
        assert mine == ldd_paths(path), name
    # RPATH of the program reaches liba's dependency; RUNPATH does not (ld.so and ldd agree).
    assert f"{lib}/libb.so" in ldd_paths(tmp_path / "with-rpath")
    assert "NF:libb.so" in ldd_paths(tmp_path / "with-runpath")
    by_path = {e.path: e for e in resolver.closure([str(tmp_path / "with-rpath")]).entries}
    assert by_path[f"{lib}/libb.so"].symlinks == (Symlink(f"{lib}/libb.so", "libb.so.1.0"),)

    info = parse_elf(tmp_path / "with-note")
    assert info is not None and [n.sonames for n in info.dlopen] == [("libb.so",)]

    # A copy of liba with e_ident[EI_CLASS] patched to ELFCLASS32 (no gcc -m32 multilib here) first on
    # the path: ld.so skips it and goes on to the real one.
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    data = bytearray((lib / "liba.so").read_bytes())
    data[4] = ElfClass.ELF32.value
    (wrong / "liba.so").write_bytes(bytes(data[:0x200]))
    gcc("-o", "wrong-first", *common, f"-Wl,--disable-new-dtags,-rpath,{wrong}:{lib}", cwd=tmp_path)
    closure = resolver.closure([str(tmp_path / "wrong-first")])
    assert f"{lib}/liba.so" in closure.paths
    assert {e.path for e in closure.entries if e.path != str(tmp_path / "wrong-first")} == ldd_paths(
        tmp_path / "wrong-first"
    )

    # The same program resolved inside a sysroot holding copies and its own ld.so.conf.
    root = tmp_path / "root"
    for src in ("/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/libc.so.6"):
        dest = root / src.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dest)
    (root / "opt/l").mkdir(parents=True)
    shutil.copy(lib / "liba.so", root / "opt/l/liba.so")
    shutil.copy(lib / "libb.so.1.0", root / "opt/l/libb.so")
    (root / "usr/bin").mkdir(parents=True)
    shutil.copy(tmp_path / "with-runpath", root / "usr/bin/prog")
    (root / "etc").mkdir()
    (root / "etc/ld.so.conf").write_text("/opt/l\n")
    closure = resolve_closure(["/usr/bin/prog"], str(root), dlopen=False)
    assert closure.unresolved == ()
    assert closure.paths == {"/usr/bin/prog", INTERP, "/opt/l/liba.so", "/opt/l/libb.so",
                             "/lib/x86_64-linux-gnu/libc.so.6"}  # fmt: skip


def test_script_interpreter_loop_is_reported(sysroot: Path) -> None:
    put(sysroot, "/usr/bin/a", b"#!/usr/bin/b\n")
    put(sysroot, "/usr/bin/b", b"#!/usr/bin/a\n")
    closure = resolve_closure(["/usr/bin/a"], str(sysroot), dlopen=False)
    assert [u.detail for u in closure.unresolved] == ["script interpreter loop"]
