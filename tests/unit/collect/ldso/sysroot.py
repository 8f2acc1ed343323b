"""A synthetic sysroot for the ld.so emulation tests (fast: no compiler): files, links and executables."""

from __future__ import annotations

from pathlib import Path

from tests.unit.collect.elffiles import INTERP, make_elf


def put(root: Path, path: str, data: bytes, mode: int = 0o755) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    target.chmod(mode)


def link(root: Path, path: str, target: str) -> None:
    where = root / path.lstrip("/")
    where.parent.mkdir(parents=True, exist_ok=True)
    where.symlink_to(target)


def exe(**kw: object) -> bytes:
    return make_elf(interp=INTERP, **kw)  # type: ignore[arg-type]
