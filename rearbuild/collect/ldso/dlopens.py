"""Libraries programs load with dlopen() that no DT_NEEDED names: the rules that add them to a closure."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from rearbuild.collect.ldso.nsswitch import nss_services
from rearbuild.collect.ldso.tree import Tree


class DlopenSource(enum.Enum):
    """Where the sonames of a KNOWN_DLOPENS rule come from."""

    FIXED = "fixed"
    NSSWITCH = "nsswitch"

    def sonames(self, rule: DlopenRule, tree: Tree) -> tuple[str, ...]:
        if self is DlopenSource.FIXED:
            return rule.sonames
        return tuple(f"libnss_{service}.so.2" for service in nss_services(tree))


@dataclass(frozen=True)
class DlopenRule:
    loader: str  # DT_SONAME of the object that dlopen()s
    source: DlopenSource
    sonames: tuple[str, ...]
    required: bool
    why: str


# Libraries loaded with dlopen() that no DT_NEEDED names, added when their loader is in the closure. A
# rescue system that lacks them fails at run time, not at start (lddtree and dracut carry the same list).
# `.note.dlopen` entries of every loaded object are added as well (required and recommended priority).
KNOWN_DLOPENS: tuple[DlopenRule, ...] = (
    DlopenRule(
        "libc.so.6",
        DlopenSource.FIXED,
        ("libgcc_s.so.1",),
        False,
        "pthread_cancel() and pthread_exit() unwind with libgcc_s, which glibc loads on first use "
        "(glibc misc/unwind-link.c); without it they abort with 'libgcc_s.so.1 must be installed'",
    ),
    DlopenRule(
        "libc.so.6",
        DlopenSource.NSSWITCH,
        (),
        False,
        "getpwnam(), getaddrinfo() and friends load libnss_<service>.so.2 for each service named in "
        "/etc/nsswitch.conf (nsswitch.conf(5)); files and dns by default",
    ),
)
