"""The layer list: which subdirectories of recipes/, skel/ and conf/ apply to this host, in order.

ReaR spells this glob three times (SourceStage, the skeleton merge and the config cascade); here one function
computes it and the three users take what they need.
"""

from __future__ import annotations

from collections.abc import Mapping


def os_layers(v: Mapping[str, str]) -> tuple[str, ...]:
    """default, then from generic to specific: arch, OS, master vendor (+arch/version), vendor (+arch/version).

    Takes the variables of facts.Facts.variables() (possibly overridden by configuration).
    """
    names = [
        "default",
        v["ARCH"],
        v["OS"],
        v["OS_MASTER_VENDOR"],
        v["OS_MASTER_VENDOR_ARCH"],
        v["OS_MASTER_VENDOR_VERSION"],
        v["OS_VENDOR"],
        v["OS_VENDOR_ARCH"],
        v["OS_VENDOR_VERSION"],
    ]
    return tuple(dict.fromkeys(n for n in names if n))  # unique, order kept (vendor == master on Debian)


def conf_layers(v: Mapping[str, str]) -> tuple[str, ...]:
    """The shipped distribution config files, without default (ReaR's list, usr/sbin/rear l.815-890)."""
    names = [
        v["ARCH"],
        v["OS"],
        v["OS_MASTER_VENDOR"],
        v["OS_MASTER_VENDOR_ARCH"],
        v["OS_MASTER_VENDOR_VERSION"],
        v["OS_MASTER_VENDOR_VERSION_ARCH"],
        v["OS_VENDOR"],
        v["OS_VENDOR_ARCH"],
        v["OS_VENDOR_VERSION"],
        v["OS_VENDOR_VERSION_ARCH"],
    ]
    return tuple(dict.fromkeys(n for n in names if n))


def recipe_layers(v: Mapping[str, str], backup: str, output: str) -> tuple[str, ...]:
    """Subdirectories of a stage directory that hold recipes, as relative paths."""
    base = os_layers(v)
    prefixes = ["", f"{backup}/", f"{output}/", f"{output}/{backup}/"]
    return tuple(dict.fromkeys(p + layer for p in prefixes for layer in base))


def skel_layers(v: Mapping[str, str], backup: str, output: str) -> tuple[str, ...]:
    """skel/ subdirectories merged into the rescue rootfs, later ones overriding earlier ones."""
    return tuple(dict.fromkeys([*os_layers(v), backup, output]))
