"""Loading (rearbuild.collect.ldso.load): one object per file, dlopen()ed libraries."""

from __future__ import annotations

from pathlib import Path

from rearbuild.collect.ldso.closure import Reason
from rearbuild.collect.ldso.resolver import resolve_closure
from tests.unit.collect.elffiles import make_elf
from tests.unit.collect.ldso.sysroot import exe, link, put


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
