"""Path lookups inside a tree (rearbuild.collect.ldso.tree): symlink chains, read inside the sysroot."""

from __future__ import annotations

from pathlib import Path

from rearbuild.collect.ldso.closure import Reason
from rearbuild.collect.ldso.resolver import resolve_closure
from rearbuild.collect.ldso.tree import Symlink
from tests.unit.collect.elffiles import INTERP
from tests.unit.collect.ldso.sysroot import exe, put


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
