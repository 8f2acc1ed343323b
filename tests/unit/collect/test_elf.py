"""ELF parsing (rearbuild.collect.elf) and the ld.so emulation (rearbuild.collect.ldso).

Fast tests build tiny ELF files byte by byte (make_elf) and resolve them in a throw-away sysroot; the
slow ones compile real programs with gcc and compare with what the real ld.so (ldd) does.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import struct
from pathlib import Path

import pytest

from rearbuild.collect.elf import (
    DLOPEN_NOTE_TYPE,
    DT_NEEDED,
    DT_RPATH,
    DT_RUNPATH,
    DT_SONAME,
    DT_STRSZ,
    DT_STRTAB,
    EHDR32_FMT,
    EHDR64_FMT,
    PHDR32_FMT,
    PHDR64_FMT,
    PT_DYNAMIC,
    PT_INTERP,
    PT_LOAD,
    PT_NOTE,
    ByteOrder,
    DlopenPriority,
    ElfClass,
    ElfError,
    parse_elf,
    parse_elf_bytes,
)
from rearbuild.collect.ldso import (
    DiskTree,
    ImageLink,
    LoaderCaps,
    Reason,
    Resolver,
    Symlink,
    find_program,
    ld_so_conf_dirs,
    resolve_closure,
    verify_rootfs,
)
from rearbuild.run import run

EM_X86_64 = 62
INTERP = "/lib64/ld-linux-x86-64.so.2"
_BASE = 0x400000  # virtual address of file offset 0: DT_STRTAB must be translated, not used as an offset


def make_elf(
    *,
    needed: tuple[str, ...] = (),
    soname: str | None = None,
    rpath: str | None = None,
    runpath: str | None = None,
    interp: str | None = None,
    dlopen: list[dict[str, object]] | None = None,
    elf_class: ElfClass = ElfClass.ELF64,
    order: ByteOrder = ByteOrder.LSB,
    machine: int = EM_X86_64,
) -> bytes:
    """A minimal ELF shared object: header, PT_LOAD over the whole file, PT_DYNAMIC, optional PT_INTERP
    and PT_NOTE (.note.dlopen), then the string table, the dynamic section and the note."""
    p = order.prefix
    ehdr = struct.Struct(p + (EHDR64_FMT if elf_class is ElfClass.ELF64 else EHDR32_FMT))
    phdr = struct.Struct(p + (PHDR64_FMT if elf_class is ElfClass.ELF64 else PHDR32_FMT))
    dyn = struct.Struct(p + ("qQ" if elf_class is ElfClass.ELF64 else "iI"))
    strtab = bytearray(b"\0")

    def string(text: str) -> int:
        strtab.extend(text.encode() + b"\0")
        return len(strtab) - len(text) - 1

    tags = [(DT_NEEDED, string(n)) for n in needed]
    for tag, value in ((DT_SONAME, soname), (DT_RPATH, rpath), (DT_RUNPATH, runpath)):
        if value is not None:
            tags.append((tag, string(value)))
    note = b""
    if dlopen is not None:
        desc = json.dumps(dlopen).encode() + b"\0"
        desc += b"\0" * (-len(desc) % 4)
        note = struct.pack(p + "III", 4, len(desc), DLOPEN_NOTE_TYPE) + b"FDO\0" + desc
    interp_bytes = interp.encode() + b"\0" if interp else b""
    nph = 2 + bool(interp) + bool(note)
    str_off = ehdr.size + nph * phdr.size
    interp_off = str_off + len(strtab)
    dyn_off = (interp_off + len(interp_bytes) + 7) & ~7
    tags += [(DT_STRTAB, _BASE + str_off), (DT_STRSZ, len(strtab)), (0, 0)]
    dynamic = b"".join(dyn.pack(t, v) for t, v in tags)
    note_off = dyn_off + len(dynamic)
    total = note_off + len(note)

    def ph(kind: int, off: int, size: int, align: int) -> bytes:
        if elf_class is ElfClass.ELF64:
            return phdr.pack(kind, 4, off, _BASE + off, _BASE + off, size, size, align)
        return phdr.pack(kind, off, _BASE + off, _BASE + off, size, size, 4, align)

    ident = b"\x7fELF" + bytes([elf_class.value, order.value, 1, 0]) + b"\0" * 8
    head = ehdr.pack(ident, 3, machine, 1, 0, ehdr.size, 0, 0, ehdr.size, phdr.size, nph, 0, 0, 0)
    phs = ph(PT_LOAD, 0, total, 0x1000) + ph(PT_DYNAMIC, dyn_off, len(dynamic), 8)
    if interp:
        phs += ph(PT_INTERP, interp_off, len(interp_bytes), 1)
    if note:
        phs += ph(PT_NOTE, note_off, len(note), 4)
    body = head + phs + bytes(strtab) + interp_bytes
    body += b"\0" * (dyn_off - len(body))
    return body + dynamic + note


# -- parsing ---------------------------------------------------------------------------------------


def test_parse_system_true() -> None:
    info = parse_elf("/bin/true")
    assert info is not None
    assert info.elf_class is ElfClass.ELF64 and info.machine == EM_X86_64
    assert info.interpreter == INTERP
    assert "libc.so.6" in info.needed


@pytest.mark.parametrize("elf_class", list(ElfClass))
@pytest.mark.parametrize("order", list(ByteOrder))
def test_parse_synthetic_dynamic_section(elf_class: ElfClass, order: ByteOrder) -> None:
    data = make_elf(
        needed=("liba.so.1", "libb.so.2"),
        soname="libme.so.3",
        rpath="/r",
        runpath="$ORIGIN/../lib",
        interp=INTERP,
        elf_class=elf_class,
        order=order,
    )
    info = parse_elf_bytes(data)
    assert info is not None
    assert (info.elf_class, info.byte_order) == (elf_class, order)
    assert info.needed == ("liba.so.1", "libb.so.2")
    assert info.soname == "libme.so.3"
    assert info.interpreter == INTERP
    assert (info.rpath, info.runpath) == ("/r", "$ORIGIN/../lib")
    assert info.effective_rpath is None  # RUNPATH present: ld.so ignores RPATH


def test_parse_dlopen_note() -> None:
    notes: list[dict[str, object]] = [
        {"feature": "zstd", "description": "compression", "priority": "required", "soname": ["libzstd.so.1"]},
        {"feature": "idn", "priority": "suggested", "soname": ["libidn2.so.0", "libidn.so.12"]},
    ]
    info = parse_elf_bytes(make_elf(dlopen=notes))
    assert info is not None
    assert [(n.feature, n.priority, n.sonames) for n in info.dlopen] == [
        ("zstd", DlopenPriority.REQUIRED, ("libzstd.so.1",)),
        ("idn", DlopenPriority.SUGGESTED, ("libidn2.so.0", "libidn.so.12")),
    ]


def test_non_elf_is_none(tmp_path: Path) -> None:
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\necho hi\n")
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert parse_elf(script) is None
    assert parse_elf(empty) is None
    assert parse_elf_bytes(b"\x7fEL") is None


@pytest.mark.parametrize("cut", [10, 40, 100, 300])
def test_truncated_elf_is_a_clear_error(cut: int) -> None:
    data = make_elf(needed=("liba.so.1",), interp=INTERP)
    with pytest.raises(ElfError, match=r"truncated|corrupt"):
        parse_elf_bytes(data[:cut], "cut.so")


def test_corrupt_fields_are_clear_errors() -> None:
    data = bytearray(make_elf(needed=("liba.so.1",)))
    bad_class = bytearray(data)
    bad_class[4] = 9
    with pytest.raises(ElfError, match=r"bad\.so: corrupt"):
        parse_elf_bytes(bytes(bad_class), "bad.so")
    # A DT_NEEDED string index far outside the string table.
    info = parse_elf_bytes(bytes(data))
    assert info is not None
    needle = struct.pack("<qQ", DT_NEEDED, 1)
    at = next(i for i in range(0, len(data), 8) if data[i : i + 16] == needle)  # Elf64_Dyn is 8-aligned
    data[at + 8 : at + 16] = struct.pack("<Q", 10**6)
    with pytest.raises(ElfError, match="outside the string table"):
        parse_elf_bytes(bytes(data), "bad.so")


def test_missing_file_is_a_user_error(tmp_path: Path) -> None:
    from rearbuild.errors import UserError

    with pytest.raises(UserError, match="cannot read"):
        parse_elf(tmp_path / "nope")


# -- a synthetic sysroot (fast: no compiler) ---------------------------------------------------------


def put(root: Path, path: str, data: bytes, mode: int = 0o755) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    target.chmod(mode)


def link(root: Path, path: str, target: str) -> None:
    where = root / path.lstrip("/")
    where.parent.mkdir(parents=True, exist_ok=True)
    where.symlink_to(target)


@pytest.fixture
def sysroot(tmp_path: Path) -> Path:
    """A Debian-like merged-/usr tree: /lib -> usr/lib, /lib64 -> usr/lib64, multiarch libc."""
    root = tmp_path / "root"
    for d in ("usr/lib/x86_64-linux-gnu", "usr/lib64", "usr/bin", "etc/ld.so.conf.d"):
        (root / d).mkdir(parents=True)
    link(root, "/lib", "usr/lib")
    link(root, "/lib64", "usr/lib64")
    link(root, "/bin", "usr/bin")
    ml = "/usr/lib/x86_64-linux-gnu"
    put(root, f"{ml}/ld-linux-x86-64.so.2", make_elf(soname="ld-linux-x86-64.so.2"))
    link(root, "/usr/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
    put(root, f"{ml}/libc.so.6", make_elf(soname="libc.so.6", needed=("ld-linux-x86-64.so.2",)))
    put(root, f"{ml}/libfoo.so.1.2.3", make_elf(soname="libfoo.so.1", needed=("libc.so.6",)))
    link(root, f"{ml}/libfoo.so.1", "libfoo.so.1.2.3")
    (root / "etc/ld.so.conf").write_text("# comment\ninclude ld.so.conf.d/*.conf\n")
    (root / "etc/ld.so.conf.d/b.conf").write_text("/opt/conf2\n")
    (root / "etc/ld.so.conf.d/a.conf").write_text("/opt/conf1/  # trailing slash and comment\n")
    return root


def exe(**kw: object) -> bytes:
    return make_elf(interp=INTERP, **kw)  # type: ignore[arg-type]


def test_symlink_chains_are_kept(sysroot: Path) -> None:
    put(sysroot, "/usr/bin/prog", exe(needed=("libfoo.so.1",)))
    closure = resolve_closure(["/bin/prog"], str(sysroot), dlopen=False)
    by_path = {e.path: e for e in closure.entries}
    foo = by_path["/lib/x86_64-linux-gnu/libfoo.so.1"]
    assert foo.real_path == "/usr/lib/x86_64-linux-gnu/libfoo.so.1.2.3"
    assert foo.symlinks == (
        Symlink("/lib", "usr/lib"),
        Symlink("/usr/lib/x86_64-linux-gnu/libfoo.so.1", "libfoo.so.1.2.3"),
    )
    interp = by_path[INTERP]
    assert interp.reason is Reason.INTERPRETER
    # The absolute link target is read inside the sysroot, never on the host.
    assert interp.symlinks == (
        Symlink("/lib64", "usr/lib64"),
        Symlink("/usr/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
        Symlink("/lib", "usr/lib"),
    )
    assert interp.real_path == "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
    assert by_path["/bin/prog"].symlinks == (Symlink("/bin", "usr/bin"),)
    assert set(by_path) == {"/bin/prog", INTERP, "/lib/x86_64-linux-gnu/libfoo.so.1",
                            "/lib/x86_64-linux-gnu/libc.so.6"}  # fmt: skip
    assert closure.unresolved == ()
    assert Symlink("/lib", "usr/lib") in closure.symlinks


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


def test_same_file_under_two_names_is_loaded_once(sysroot: Path) -> None:
    ml = "/usr/lib/x86_64-linux-gnu"
    link(sysroot, f"{ml}/libfoo-alias.so", "libfoo.so.1.2.3")
    put(sysroot, "/usr/bin/prog", exe(needed=("libfoo.so.1", "libfoo-alias.so")))
    closure = resolve_closure(["/usr/bin/prog"], str(sysroot), dlopen=False)
    assert [e.path for e in closure.entries if "foo" in e.path] == ["/lib/x86_64-linux-gnu/libfoo.so.1"]


def test_known_dlopens_and_note_dlopen(sysroot: Path) -> None:
    ml = "/usr/lib/x86_64-linux-gnu"
    (sysroot / "etc/nsswitch.conf").write_text("passwd: files mymod [NOTFOUND=return] other\nhosts: files dns\n")
    for name in ("libgcc_s.so.1", "libnss_files.so.2", "libnss_mymod.so.2", "libzstd.so.1", "libidn2.so.0"):
        put(sysroot, f"{ml}/{name}", make_elf(soname=name, needed=("libc.so.6",)))
    notes = [
        {"feature": "zstd", "priority": "required", "soname": ["libzstd.so.1"]},
        {"feature": "x", "priority": "recommended", "soname": ["libmissing.so.1", "libidn2.so.0"]},
        {"feature": "y", "priority": "suggested", "soname": ["libfoo.so.1"]},
        {"feature": "z", "priority": "required", "soname": ["libabsent.so.7"]},
    ]
    put(sysroot, "/usr/bin/prog", exe(needed=("libc.so.6",), dlopen=notes))
    closure = resolve_closure(["/usr/bin/prog"], str(sysroot))
    dl = {e.name: e for e in closure.entries if e.reason is Reason.DLOPEN}
    assert set(dl) == {"libgcc_s.so.1", "libnss_files.so.2", "libnss_mymod.so.2", "libzstd.so.1", "libidn2.so.0"}
    assert dl["libnss_mymod.so.2"].requester == "/lib/x86_64-linux-gnu/libc.so.6"
    assert dl["libzstd.so.1"].requester == "/usr/bin/prog"
    # Optional NSS modules that are not installed (other, dns) are no error; a required note entry is.
    assert [(u.soname, u.detail) for u in closure.unresolved] == [("libabsent.so.7", "dlopen() target not found")]
    assert all(e.reason.via_dlopen for e in closure.entries if e.name in dl)


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


def test_find_program_needs_the_executable_bit(sysroot: Path) -> None:
    put(sysroot, "/usr/sbin/tool", b"#!/bin/sh\n", mode=0o644)
    put(sysroot, "/usr/bin/tool", b"#!/bin/sh\n", mode=0o755)
    assert find_program("tool", ["/usr/local/bin", "/usr/sbin", "/bin"], str(sysroot)) == "/bin/tool"
    assert find_program("absent", ["/usr/bin"], str(sysroot)) is None


def test_script_root_pulls_in_its_interpreter(sysroot: Path) -> None:
    put(sysroot, "/usr/bin/sh", exe(needed=("libc.so.6",)))
    put(sysroot, "/usr/bin/script", b"#!/bin/sh -e\ntrue\n")
    closure = resolve_closure(["/usr/bin/script"], str(sysroot), dlopen=False)
    assert {"/bin/sh", "/lib/x86_64-linux-gnu/libc.so.6", INTERP} <= closure.paths


def test_verify_rootfs_from_a_mapping(sysroot: Path) -> None:
    ml = sysroot / "usr/lib/x86_64-linux-gnu"
    put(sysroot, "/usr/bin/prog", exe(needed=("libfoo.so.1",)))
    rootfs: dict[str, str | ImageLink] = {
        "/bin/prog": str(sysroot / "usr/bin/prog"),
        "/lib64/ld-linux-x86-64.so.2": ImageLink("../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
        "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2": str(ml / "ld-linux-x86-64.so.2"),
        "/lib/x86_64-linux-gnu/libfoo.so.1": ImageLink("libfoo.so.1.2.3"),
        "/lib/x86_64-linux-gnu/libfoo.so.1.2.3": str(ml / "libfoo.so.1.2.3"),
    }
    missing = verify_rootfs(rootfs)
    assert {(u.requester, u.soname) for u in missing} == {
        # libfoo's DT_NEEDED, seen from /bin/prog (which loads it as libfoo.so.1) and from libfoo itself
        ("/lib/x86_64-linux-gnu/libfoo.so.1", "libc.so.6"),
        ("/lib/x86_64-linux-gnu/libfoo.so.1.2.3", "libc.so.6"),
    }
    rootfs["/lib/x86_64-linux-gnu/libc.so.6"] = str(ml / "libc.so.6")
    assert verify_rootfs(rootfs) == ()


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
