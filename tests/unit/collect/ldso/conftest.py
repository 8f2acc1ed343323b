"""The `sysroot` fixture shared by the ld.so emulation tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.collect.elffiles import make_elf
from tests.unit.collect.ldso.sysroot import link, put


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
