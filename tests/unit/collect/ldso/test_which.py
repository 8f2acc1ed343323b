"""find_program (rearbuild.collect.ldso.which)."""

from __future__ import annotations

from pathlib import Path

from rearbuild.collect.ldso.which import find_program
from tests.unit.collect.ldso.sysroot import put


def test_find_program_needs_the_executable_bit(sysroot: Path) -> None:
    put(sysroot, "/usr/sbin/tool", b"#!/bin/sh\n", mode=0o644)
    put(sysroot, "/usr/bin/tool", b"#!/bin/sh\n", mode=0o755)
    assert find_program("tool", ["/usr/local/bin", "/usr/sbin", "/bin"], str(sysroot)) == "/bin/tool"
    assert find_program("absent", ["/usr/bin"], str(sysroot)) is None
