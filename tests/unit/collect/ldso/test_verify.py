"""verify_rootfs (rearbuild.collect.ldso.verify) over a planned rootfs mapping."""

from __future__ import annotations

from pathlib import Path

from rearbuild.collect.ldso.mapped import ImageLink
from rearbuild.collect.ldso.verify import verify_rootfs
from tests.unit.collect.ldso.sysroot import exe, put


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
