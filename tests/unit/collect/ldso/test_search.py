"""The library search (rearbuild.collect.ldso.search): RPATH/RUNPATH, $ORIGIN/$LIB, ld.so.conf, unusable candidates."""

from __future__ import annotations

from pathlib import Path

from rearbuild.collect.elf import ElfClass, parse_elf_bytes
from rearbuild.collect.ldso.caps import LoaderCaps
from rearbuild.collect.ldso.conf import ld_so_conf_dirs
from rearbuild.collect.ldso.disk import DiskTree
from rearbuild.collect.ldso.resolver import Resolver, resolve_closure
from rearbuild.collect.ldso.search import expand, path_dirs
from rearbuild.collect.ldso.state import LoadedObject
from tests.unit.collect.elffiles import make_elf
from tests.unit.collect.ldso.sysroot import exe, link, put


def test_rpath_is_inherited_runpath_is_not(sysroot: Path) -> None:
    put(sysroot, "/opt/r/liba.so", make_elf(soname="liba.so", needed=("libb.so", "libc.so.6")))
    put(sysroot, "/opt/r/libb.so", make_elf(soname="libb.so"))
    put(sysroot, "/usr/bin/with-rpath", exe(needed=("liba.so",), rpath="/opt/r"))
    put(sysroot, "/usr/bin/with-runpath", exe(needed=("liba.so",), runpath="/opt/r"))
    resolver = Resolver(str(sysroot), dlopen=False)

    rp = resolver.closure(["/usr/bin/with-rpath"])
    assert {"/opt/r/liba.so", "/opt/r/libb.so"} <= rp.paths
    assert rp.unresolved == ()

    run_p = resolver.closure(["/usr/bin/with-runpath"])
    assert "/opt/r/liba.so" in run_p.paths
    assert [(u.requester, u.soname) for u in run_p.unresolved] == [("/opt/r/liba.so", "libb.so")]


def test_runpath_wins_over_rpath_and_blocks_inheritance(sysroot: Path) -> None:
    put(sysroot, "/opt/rp/liba.so", make_elf(soname="liba.so"))
    put(sysroot, "/opt/run/liba.so", make_elf(soname="liba.so", needed=("libb.so",), runpath="/opt/none"))
    put(sysroot, "/opt/rp/libb.so", make_elf(soname="libb.so"))
    put(sysroot, "/usr/bin/both", exe(needed=("liba.so",), rpath="/opt/rp", runpath="/opt/run"))
    closure = resolve_closure(["/usr/bin/both"], str(sysroot), dlopen=False)
    assert "/opt/run/liba.so" in closure.paths  # RPATH ignored because RUNPATH is set
    assert "/opt/rp/liba.so" not in closure.paths
    assert [u.soname for u in closure.unresolved] == ["libb.so"]


def test_origin_lib_and_ld_so_conf(sysroot: Path) -> None:
    put(sysroot, "/opt/app/lib/libapp.so", make_elf(soname="libapp.so", needed=("libconf.so.1",)))
    put(sysroot, "/opt/app/lib/x86_64-linux-gnu/libarch.so", make_elf(soname="libarch.so"))
    put(sysroot, "/opt/conf2/libconf.so.1", make_elf(soname="libconf.so.1"))
    put(sysroot, "/opt/app/bin/app", exe(needed=("libapp.so", "libarch.so"),
                                          runpath="$ORIGIN/../lib:${ORIGIN}/../$LIB"))  # fmt: skip
    link(sysroot, "/usr/bin/app", "/opt/app/bin/app")
    assert ld_so_conf_dirs(DiskTree(sysroot)) == ("/opt/conf1", "/opt/conf2")
    # Run through the /usr/bin symlink: $ORIGIN is the directory of the real program.
    closure = resolve_closure(["/usr/bin/app"], str(sysroot), dlopen=False)
    assert {"/opt/app/lib/libapp.so", "/opt/app/lib/x86_64-linux-gnu/libarch.so",
            "/opt/conf2/libconf.so.1"} <= closure.paths  # fmt: skip
    assert closure.unresolved == ()


def test_wrong_class_is_skipped(sysroot: Path) -> None:
    put(sysroot, "/opt/r/libfoo.so.1", make_elf(soname="libfoo.so.1", elf_class=ElfClass.ELF32, machine=3))
    put(sysroot, "/usr/bin/prog", exe(needed=("libfoo.so.1",), rpath="/opt/r"))
    closure = resolve_closure(["/usr/bin/prog"], str(sysroot), dlopen=False)
    assert "/lib/x86_64-linux-gnu/libfoo.so.1" in closure.paths
    assert "/opt/r/libfoo.so.1" not in closure.paths


def test_missing_and_corrupt_libraries_are_reported(sysroot: Path) -> None:
    put(sysroot, "/opt/r/libbroken.so", make_elf(soname="libbroken.so")[:90])
    put(sysroot, "/usr/bin/prog", exe(needed=("libnothere.so.9", "libbroken.so"), rpath="/opt/r"))
    closure = resolve_closure(["/usr/bin/prog"], str(sysroot), dlopen=False)
    got = {(u.requester, u.soname): u.detail for u in closure.unresolved}
    assert got[("/usr/bin/prog", "libnothere.so.9")] == "not found"
    assert "corrupt" in got[("/usr/bin/prog", "libbroken.so")]


def test_expand_substitutes_whole_tokens_only() -> None:
    info = parse_elf_bytes(exe())
    assert info is not None
    obj = LoadedObject("/opt/app/bin/app", "/opt/app/bin/app", info, None, "/opt/app/bin")
    caps = LoaderCaps("lib/x86_64-linux-gnu", "x86_64", ("/lib",))
    assert expand("$ORIGIN/../$LIB:${PLATFORM}/$LIBX:$ORIGIN_", obj, caps) == (
        "/opt/app/bin/../lib/x86_64-linux-gnu:x86_64/$LIBX:$ORIGIN_"
    )
    # Relative entries (and the empty one) depend on the working directory and are left out.
    assert path_dirs("$ORIGIN/../lib::rel:/usr/lib/", obj, caps) == ("/opt/app/lib", "/usr/lib")
