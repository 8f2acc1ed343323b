"""The state of one emulated process (rearbuild.collect.ldso.state): what it has loaded under which names,
and the search cache that processes in one tree share."""

from __future__ import annotations

import os
from pathlib import Path

from rearbuild.collect.elf import parse_elf_bytes
from rearbuild.collect.ldso.caps import LoaderCaps
from rearbuild.collect.ldso.closure import ClosureEntry, Reason, Unresolved
from rearbuild.collect.ldso.disk import DiskTree
from rearbuild.collect.ldso.search import search
from rearbuild.collect.ldso.state import Found, LoadedObject, Process, SearchCache
from tests.unit.collect.elffiles import make_elf
from tests.unit.collect.ldso.sysroot import exe, put


def _obj(path: str, data: bytes, loader: LoadedObject | None = None) -> LoadedObject:
    info = parse_elf_bytes(data)
    assert info is not None
    return LoadedObject(path, path, info, loader, os.path.dirname(path))


def _process(sysroot: Path, main: LoadedObject, cache: SearchCache | None = None) -> Process:
    tree = DiskTree(sysroot)
    caps = LoaderCaps.baseline(tree, main.info)
    return Process.start(cache or SearchCache(tree), caps, main, [], {})


def _entry(obj: LoadedObject, name: str) -> ClosureEntry:
    return ClosureEntry(obj.path, obj.real_path, (), Reason.NEEDED, "/usr/bin/prog", name)


def test_start_knows_only_the_main_object(sysroot: Path) -> None:
    main = _obj("/usr/bin/prog", exe(soname="prog.so"))
    proc = _process(sysroot, main)
    assert proc.loaded == [main]
    assert proc.has("prog.so") and not proc.has("libc.so.6")
    assert proc.by_file == {"/usr/bin/prog": main}
    assert proc.tree is proc.cache.tree
    assert proc.compat == (main.info.elf_class, main.info.byte_order, main.info.machine)


def test_add_records_name_soname_file_and_entry(sysroot: Path) -> None:
    main = _obj("/usr/bin/prog", exe())
    proc = _process(sysroot, main)
    first = _obj("/opt/a/libx.so.1", make_elf(soname="libx.so.1"), main)
    proc.add("libx.so", first, _entry(first, "libx.so"))
    assert proc.has("libx.so") and proc.by_name["libx.so.1"] is first
    # A second object with the same DT_SONAME does not take the name over: the first one loaded keeps it.
    second = _obj("/opt/b/libx.so.1", make_elf(soname="libx.so.1"), main)
    proc.add("/opt/b/libx.so.1", second, _entry(second, "/opt/b/libx.so.1"))
    assert proc.by_name["libx.so.1"] is first
    assert proc.loaded == [main, first, second]
    assert [e.path for e in proc.entries] == ["/opt/a/libx.so.1", "/opt/b/libx.so.1"]


def test_alias_only_for_a_file_already_loaded(sysroot: Path) -> None:
    main = _obj("/usr/bin/prog", exe())
    proc = _process(sysroot, main)
    lib = _obj("/opt/a/libx.so.1", make_elf(soname="libx.so.1"), main)
    proc.add("libx.so.1", lib, _entry(lib, "libx.so.1"))
    assert not proc.alias("liby.so", "/opt/a/liby.so")
    assert not proc.has("liby.so")
    assert proc.alias("libx-alias.so", "/opt/a/libx.so.1")
    assert proc.by_name["libx-alias.so"] is lib
    assert proc.loaded == [main, lib]  # an alias loads nothing


def test_interpreter_answers_to_its_names_but_is_not_walked(sysroot: Path) -> None:
    main = _obj("/usr/bin/prog", exe())
    proc = _process(sysroot, main)
    rtld = _obj("/lib64/ld-linux-x86-64.so.2", make_elf(soname="ld-linux-x86-64.so.2"), main)
    proc.add_interpreter("/lib64/ld-linux-x86-64.so.2", rtld)
    assert proc.has("/lib64/ld-linux-x86-64.so.2") and proc.has("ld-linux-x86-64.so.2")
    assert proc.loaded == [main]


def test_report_keeps_each_missing_library_once(sysroot: Path) -> None:
    proc = _process(sysroot, _obj("/usr/bin/prog", exe()))
    proc.report(Unresolved("/usr/bin/prog", "libz.so.1"))
    proc.report(Unresolved("/usr/bin/prog", "libz.so.1"))
    assert list(proc.unresolved) == [Unresolved("/usr/bin/prog", "libz.so.1")]


def test_search_results_are_shared_through_the_cache(sysroot: Path) -> None:
    put(sysroot, "/opt/r/libr.so", make_elf(soname="libr.so"))
    main = _obj("/usr/bin/prog", exe(rpath="/opt/r"))
    cache = SearchCache(DiskTree(sysroot))
    found = search(_process(sysroot, main, cache), "libr.so", main)
    assert isinstance(found, Found) and found.path == "/opt/r/libr.so"
    assert len(cache.results) == 1
    # Another process in the same tree gets the cached result; a process with its own cache searches again.
    assert search(_process(sysroot, main, cache), "libr.so", main) is found
    assert len(cache.results) == 1
    other = SearchCache(cache.tree)
    again = search(_process(sysroot, main, other), "libr.so", main)
    assert isinstance(again, Found) and again is not found and again.path == found.path
    # A miss is cached too, and reported for the object that asked.
    lib = _obj("/opt/r/libr.so", make_elf(soname="libr.so"), main)  # inherits the RPATH: same search
    assert search(_process(sysroot, main, cache), "libnone.so", main) == Unresolved("/usr/bin/prog", "libnone.so")
    assert search(_process(sysroot, main, cache), "libnone.so", lib) == Unresolved("/opt/r/libr.so", "libnone.so")


def test_ld_so_conf_is_read_once_per_cache(sysroot: Path) -> None:
    cache = SearchCache(DiskTree(sysroot))
    assert cache.conf_dirs is None  # nothing is read before a search needs it
    assert cache.ld_so_conf() == ("/opt/conf1", "/opt/conf2")
    (sysroot / "etc/ld.so.conf").write_text("/opt/other\n")
    assert cache.ld_so_conf() == ("/opt/conf1", "/opt/conf2")
    assert SearchCache(DiskTree(sysroot)).ld_so_conf() == ("/opt/other",)
