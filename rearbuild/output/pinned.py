"""Pin pycdlib's clock, timezone and randomness, so that an ISO is a function of its inputs.

pycdlib has no reproducibility settings (pycdlib issue #113; peer-techniques.md §B4): it stamps every
directory record and volume descriptor with time.time(), converts it with time.localtime() (so the host's
timezone lands in the GMT-offset byte, dates.py), draws the GPT disk and partition GUIDs from
uuid.uuid4() (isohybrid.py) and UDF ids from random.

Rather than patching the process-wide time.time / TZ / uuid.uuid4 (which would also change the clock of
every other thread, e.g. log timestamps), this swaps the `time`, `uuid` and `random` names *inside the
pycdlib modules* for stand-ins while the context is active: time() returns the epoch, localtime() is
gmtime() (the same effect as TZ=UTC + tzset, without touching the environment), uuid4() and random come
from generators seeded by `seed`. Everything is restored on exit; a lock keeps two builds from
interleaving.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType

from rearbuild.errors import InternalError

_lock = threading.Lock()


def derive_bytes(seed: str, purpose: str, length: int = 32) -> bytes:
    """Stable bytes for one purpose (MBR id, FAT serial, GUIDs) from the build's seed."""
    if length > 32:
        raise InternalError(f"derive_bytes: at most 32 bytes, asked for {length}")
    return hashlib.sha256(f"rearbuild\0{purpose}\0{seed}".encode()).digest()[:length]


def derive_u32(seed: str, purpose: str) -> int:
    return int.from_bytes(derive_bytes(seed, purpose, 4), "big")


class _ModuleStandIn:
    """Looks like `real`, except for the attributes given as overrides."""

    def __init__(self, real: ModuleType, **overrides: object) -> None:
        self._real = real
        self.__dict__.update(overrides)

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)


def _seeded_uuid4(seed: str) -> Callable[[], uuid.UUID]:
    counter = itertools.count()

    def uuid4() -> uuid.UUID:
        return uuid.UUID(bytes=derive_bytes(seed, f"uuid4-{next(counter)}", 16), version=4)

    return uuid4


def _frozen_time(epoch: int) -> _ModuleStandIn:
    def now() -> float:
        return float(epoch)

    def localtime(secs: float | None = None) -> time.struct_time:
        return time.gmtime(epoch if secs is None else secs)

    return _ModuleStandIn(time, time=now, localtime=localtime)


@contextmanager
def pinned_pycdlib(*, epoch: int, seed: str) -> Iterator[None]:
    """While active, pycdlib sees the clock stopped at `epoch` (UTC) and randomness drawn from `seed`."""
    import pycdlib  # noqa: F401  (loads all of pycdlib's modules, so that all of them get pinned)

    stand_ins: dict[ModuleType, object] = {
        time: _frozen_time(epoch),
        uuid: _ModuleStandIn(uuid, uuid4=_seeded_uuid4(seed)),
        random: random.Random(derive_bytes(seed, "random")),
    }
    with _lock:
        saved: list[tuple[ModuleType, str, object]] = []
        try:
            for name, module in list(sys.modules.items()):
                if name != "pycdlib" and not name.startswith("pycdlib."):
                    continue
                for attr, value in list(vars(module).items()):
                    if isinstance(value, ModuleType) and value in stand_ins:
                        saved.append((module, attr, value))
                        setattr(module, attr, stand_ins[value])
            if not any(attr == "time" for _, attr, _ in saved):
                raise InternalError("pycdlib no longer imports the time module: the ISO clock is not pinned")
            yield
        finally:
            for module, attr, value in saved:
                setattr(module, attr, value)
