"""Host facts: architecture, OS, vendor and version, hostname (ReaR's SetOSVendorAndVersion and MACHINE logic).

Detection reads /etc/os-release and uname; a sysroot can be given so that tests and container builds describe
another system than the one running rearbuild.
"""

from __future__ import annotations

import os
import platform
import socket
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from rearbuild import secureboot
from rearbuild.secureboot import SecureBootState

# ReaR's ARCH uses a "machine family" (usr/sbin/rear, conf/default.conf ~l.250): x86 is i386 even on x86_64, so
# recipes in Linux-i386/ apply to both; REAL_ARCH keeps the real machine.
_MACHINE_FAMILY = {
    "x86_64": "i386",
    "i686": "i386",
    "i586": "i386",
    "i486": "i386",
    "i386": "i386",
    "aarch64": "arm",
    "armv7l": "arm",
    "armv8l": "arm",
    "s390": "s390",
    "s390x": "s390",
    "ppc64": "ppc64",
    "ppc64le": "ppc64le",
}

# os-release ID -> (OS_VENDOR, OS_MASTER_VENDOR), ReaR's names (lib/config-functions.sh).
_VENDORS = {
    "debian": ("Debian", "Debian"),
    "ubuntu": ("Ubuntu", "Debian"),
    "linuxmint": ("LinuxMint", "Debian"),
    "raspbian": ("Raspbian", "Debian"),
    "fedora": ("Fedora", "Fedora"),
    "rhel": ("RedHatEnterpriseServer", "Fedora"),
    "centos": ("CentOS", "Fedora"),
    "rocky": ("Rocky", "Fedora"),
    "almalinux": ("AlmaLinux", "Fedora"),
    "ol": ("OracleLinux", "Fedora"),
    "sles": ("SUSE_LINUX", "SUSE"),
    "sled": ("SUSE_LINUX", "SUSE"),
    "opensuse-leap": ("SUSE_LINUX", "SUSE"),
    "opensuse-tumbleweed": ("SUSE_LINUX", "SUSE"),
    "arch": ("Arch", "Arch"),
}


@dataclass(frozen=True)
class Facts:
    machine: str  # uname -m, e.g. x86_64
    os: str  # uname -o, GNU/Linux
    os_vendor: str
    os_version: str
    os_master_vendor: str
    hostname: str
    secure_boot: SecureBootState = SecureBootState.UNKNOWN

    @property
    def machine_family(self) -> str:
        return _MACHINE_FAMILY.get(self.machine, self.machine)

    @property
    def arch(self) -> str:
        return f"Linux-{self.machine_family}"

    @property
    def real_arch(self) -> str:
        return f"Linux-{self.machine}"

    @property
    def os_master_version(self) -> str:
        return self.os_version.split(".")[0]

    def variables(self) -> dict[str, str]:
        """The variables ReaR derives from these facts, with its names."""
        fam = self.machine_family
        master, vendor = self.os_master_vendor, self.os_vendor
        return {
            "ARCH": self.arch,
            "REAL_ARCH": self.real_arch,
            "MACHINE": fam,
            "REAL_MACHINE": self.machine,
            "OS": self.os,
            "OS_VENDOR": vendor,
            "OS_VERSION": self.os_version,
            "OS_MASTER_VENDOR": master,
            "OS_MASTER_VERSION": self.os_master_version,
            "OS_VENDOR_ARCH": f"{vendor}/{fam}",
            "OS_VENDOR_VERSION": f"{vendor}/{self.os_version}",
            "OS_VENDOR_VERSION_ARCH": f"{vendor}/{self.os_version}/{fam}",
            "OS_MASTER_VENDOR_ARCH": f"{master}/{fam}",
            "OS_MASTER_VENDOR_VERSION": f"{master}/{self.os_master_version}",
            "OS_MASTER_VENDOR_VERSION_ARCH": f"{master}/{self.os_master_version}/{fam}",
            # not a ReaR variable: how the host booted, recorded so a build elsewhere knows it
            "SECURE_BOOT_STATE": self.secure_boot.value,
        }

    def with_vendor(self, vendor: str, version: str) -> Facts:
        """Facts after a manual override (ReaR's os.conf sets OS_VENDOR and OS_VERSION)."""
        master = next((m for v, m in _VENDORS.values() if v == vendor), vendor)
        return replace(self, os_vendor=vendor, os_version=version, os_master_vendor=master)


def read_os_release(sysroot: Path = Path("/")) -> dict[str, str]:
    """Parse os-release(5): KEY=value lines with shell-like quoting."""
    for candidate in ("etc/os-release", "usr/lib/os-release"):
        path = sysroot / candidate
        if path.is_file():
            break
    else:
        return {}
    return parse_os_release(path.read_text(errors="replace"))


def parse_os_release(text: str) -> dict[str, str]:
    """os-release(5) text as its fields."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        fields[key] = value
    return fields


def short_hostname() -> str:
    # ReaR: HOSTNAME=$(hostname -s), the name without domain.
    return socket.gethostname().split(".")[0] or "localhost"


def detect(sysroot: Path = Path("/")) -> Facts:
    release = read_os_release(sysroot)
    ident = release.get("ID", "").lower()
    vendor, master = _VENDORS.get(ident, ("generic", "generic"))
    if vendor == "generic":
        for like in release.get("ID_LIKE", "").lower().split():
            if like in _VENDORS:
                vendor, master = (release.get("ID", "generic"), _VENDORS[like][1])
                break
    version = release.get("VERSION_ID", "none")
    uname = os.uname()
    return Facts(
        machine=uname.machine or platform.machine(),
        os="GNU/Linux",
        os_vendor=vendor,
        os_version=version,
        os_master_vendor=master,
        hostname=short_hostname(),
        secure_boot=secureboot.detect(),
    )


@dataclass(frozen=True)
class KernelCmdline:
    """The running kernel's command line, read once per run: the rescue init's options (`unattended`), the
    disks an operator protects, and the parameters ReaR's COPY_KERNEL_PARAMETERS carries into the image."""

    words: tuple[str, ...] = ()

    @classmethod
    def read(cls, path: Path = Path("/proc/cmdline")) -> KernelCmdline:
        try:
            return cls(tuple(path.read_text().split()))
        except OSError:  # no /proc (a container build): an empty command line
            return cls()

    def __contains__(self, word: object) -> bool:
        return word in self.words

    @property
    def text(self) -> str:
        return " ".join(self.words)

    def with_keys(self, keys: Iterable[str]) -> tuple[str, ...]:
        """The words whose name (before `=`) is one of keys, in command-line order."""
        wanted = set(keys)
        return tuple(w for w in self.words if w.split("=", 1)[0] in wanted)
