"""Which modules go into the image: ReaR's MODULES, MODULES_LOAD and EXCLUDE_MODULES."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from rearbuild.collect.kmod.index import GLOB_CHARS, ModuleIndex, matches_any, missing_error, read_lines
from rearbuild.collect.kmod.names import normalize
from rearbuild.errors import UserError


class ModulesKeyword(Enum):
    """The special words of MODULES (ReaR default.conf)."""

    ALL = "all_modules"
    LOADED = "loaded_modules"
    NONE = "no_modules"

    @classmethod
    def find(cls, words: Sequence[str]) -> set[ModulesKeyword]:
        return {kind for kind in cls if kind.value in words}


class ModuleClass(Enum):
    """Classes of drivers the default MODULES=() takes; the value is (label, path globs in the tree).

    ReaR's rescue/GNU/Linux/230_storage_and_network_modules.sh takes the same directories; globs are
    matched against the module's path relative to lib/modules/KVER.
    """

    STORAGE = (
        "storage",
        (
            "kernel/drivers/block/*",
            "kernel/drivers/ata/*",
            "kernel/drivers/scsi/*",
            "kernel/drivers/md/*",
            "kernel/drivers/nvme/*",
            "kernel/drivers/mmc/*",
            "kernel/drivers/usb/storage/*",
            "kernel/drivers/firewire/*",
            "kernel/drivers/message/*",
            "kernel/drivers/ide/*",
            "kernel/drivers/cdrom/*",
            "kernel/drivers/s390/block/*",
            "kernel/drivers/s390/scsi/*",
        ),
    )
    NETWORK = ("network", ("kernel/drivers/net/*", "kernel/net/*"))
    FILESYSTEM = ("file system", ("kernel/fs/*",))
    CRYPTO = ("crypto", ("kernel/crypto/*", "kernel/drivers/crypto/*", "kernel/arch/*/crypto/*"))
    USB = ("USB", ("kernel/drivers/usb/*", "kernel/drivers/hid/*"))
    INPUT = ("input", ("kernel/drivers/input/*", "kernel/drivers/hid/*"))
    VIRTUALIZATION = (
        "virtualization",
        ("kernel/drivers/virtio/*", "kernel/drivers/xen/*", "kernel/drivers/hv/*", "kernel/drivers/*/hyperv/*"),
    )
    # Out-of-tree drivers (DKMS, vendor packages: rear#2677) live outside kernel/.
    EXTRA = ("out-of-tree", ("extra/*", "updates/*", "weak-updates/*"))

    def __init__(self, label: str, globs: tuple[str, ...]) -> None:
        self.label = label
        self.globs = globs

    def matches(self, relpath: str) -> bool:
        return any(fnmatch.fnmatchcase(relpath, pattern) for pattern in self.globs)


# Parts of the class directories no recovery uses, left out of the class-based default (a dependency of a chosen
# driver still comes along; MODULES can name any of them): packet filtering, traffic shaping, the Bluetooth stack,
# USB device-side (gadget) drivers, and radio links -- Wi-Fi (the rescue system carries no WPA supplicant, so a
# wireless NIC cannot reach a backup server anyway), CAN, WWAN, 802.15.4, amateur radio, NFC. Together about
# 50 MB of modules: a smaller initrd that boots faster, while every wired network, storage, file-system, crypto,
# USB host and input driver stays.
NOT_FOR_RECOVERY = (
    "kernel/net/netfilter/*", "kernel/net/ipv4/netfilter/*", "kernel/net/ipv6/netfilter/*",
    "kernel/net/bridge/netfilter/*", "kernel/net/sched/*", "kernel/net/bluetooth/*", "kernel/drivers/bluetooth/*",
    "kernel/drivers/usb/gadget/*",
    "kernel/drivers/net/wireless/*", "kernel/net/wireless/*", "kernel/net/mac80211/*",
    "kernel/drivers/net/can/*", "kernel/net/can/*", "kernel/drivers/net/wwan/*",
    "kernel/drivers/net/ieee802154/*", "kernel/net/ieee802154/*", "kernel/net/mac802154/*",
    "kernel/drivers/net/hamradio/*", "kernel/net/ax25/*", "kernel/net/netrom/*", "kernel/net/rose/*",
    "kernel/net/nfc/*", "kernel/drivers/nfc/*",
    # file *servers* (the NFS and SMB server of the kernel), not file systems; graphics drivers a hypervisor's
    # display class would pull in (the console works on the firmware's framebuffer and the serial port)
    "kernel/fs/nfsd/*", "kernel/fs/smb/server/*", "kernel/fs/ksmbd/*", "kernel/drivers/gpu/*",
)  # fmt: skip


# Modules the default selection always takes (globs over module names), ReaR's fixed list of
# build/GNU/Linux/400_copy_modules.sh plus what reading the rescue medium and the layout needs.
FIXED_MODULES = (
    "nvram", "vfat", "nls_*", "af_packet", "unix", "nfs", "nfsv3", "nfsv4", "lockd", "sunrpc", "cifs",
    "usbcore", "usb_storage", "usbhid", "uhci_hcd", "ehci_hcd", "ehci_pci", "xhci_hcd", "xhci_pci",
    "ohci_hcd", "sr_mod", "cdrom", "sd_mod", "sg", "iso9660", "isofs", "udf", "squashfs", "overlay", "loop",
    "zlib_inflate", "zlib_deflate", "libcrc32c", "crc32c*", "dm_*", "md_mod", "raid*", "linear",
    "efivarfs", "vmw_pvscsi", "vmxnet3",
)  # fmt: skip


class ReasonKind(Enum):
    """Why a module is in the image; the value is the phrase, completed by the detail."""

    ALL = "all_modules"
    CLASS = "{} driver"
    FIXED = "always included ({})"
    EXPLICIT = "named in MODULES"
    LOAD = "named in MODULES_LOAD"
    LOADED = "loaded on the host"
    DEPENDENCY = "dependency of {}"
    SOFTDEP_PRE = "softdep (pre) of {}"
    SOFTDEP_POST = "softdep (post) of {}"

    def describe(self, detail: str) -> str:
        template: str = self.value
        return template.format(detail)


@dataclass(frozen=True)
class Reason:
    kind: ReasonKind
    detail: str = ""

    def __str__(self) -> str:
        return self.kind.describe(self.detail)


@dataclass(frozen=True)
class Selection:
    """Chosen modules (name -> first reason, in load-friendly order), and what could not be taken."""

    modules: Mapping[str, Reason]
    missing_loaded: tuple[str, ...]  # loaded on the host, but no such module for this kernel
    excluded: tuple[str, ...]  # EXCLUDE_MODULES that would otherwise have been taken


def loaded_modules(sysroot: Path) -> tuple[str, ...]:
    """Names in <sysroot>/proc/modules (none when it does not exist, e.g. a kernel without modules)."""
    return tuple(normalize(line.split()[0]) for _, line in read_lines(sysroot / "proc/modules") if line.split())


def select_modules(
    index: ModuleIndex,
    modules: Sequence[str],
    *,
    modules_load: Sequence[str] = (),
    exclude: Sequence[str] = (),
    loaded: Sequence[str] = (),
) -> Selection:
    """The modules for the image, closed over modules.dep and softdeps, by ReaR's MODULES semantics.

    modules: ("all_modules",) every module; ("no_modules",) none; () the default: loaded modules,
    the ModuleClass drivers and FIXED_MODULES; otherwise the names (and "loaded_modules") given,
    plus the loaded modules as ReaR does. modules_load (MODULES_LOAD) are always taken;
    exclude (EXCLUDE_MODULES, names or globs) are never taken, not even as a dependency.
    """
    keywords = ModulesKeyword.find(modules)
    names = [m for m in modules if m not in {k.value for k in ModulesKeyword}]
    seeds: list[tuple[str, Reason]] = []
    if ModulesKeyword.NONE in keywords:
        if modules_load:
            raise UserError(
                f"MODULES=no_modules, but MODULES_LOAD names {', '.join(modules_load)}",
                hint="drop no_modules from MODULES, or empty MODULES_LOAD",
            )
        return Selection({}, (), ())

    missing = [n for n in names if not index.lookup(n)]
    if missing:
        raise missing_error(index, missing, "MODULES")
    missing = [n for n in modules_load if not index.lookup(n)]
    if missing:
        raise missing_error(index, missing, "MODULES_LOAD")

    ordered = sorted(index.paths, key=index.sort_key)
    if ModulesKeyword.ALL in keywords:
        seeds += [(m, Reason(ReasonKind.ALL)) for m in ordered]
    seeds += [(m, Reason(ReasonKind.LOAD)) for n in modules_load for m in index.lookup(n)]
    seeds += [(m, Reason(ReasonKind.EXPLICIT)) for n in names for m in index.lookup(n)]
    missing_loaded = tuple(n for n in loaded if not index.lookup(n))
    seeds += [(m, Reason(ReasonKind.LOADED)) for n in loaded for m in index.lookup(n)]
    if not modules:
        for module in ordered:
            path = index.paths[module]
            if any(fnmatch.fnmatchcase(path, pattern) for pattern in NOT_FOR_RECOVERY):
                continue
            for cls in ModuleClass:
                if cls.matches(path):
                    seeds.append((module, Reason(ReasonKind.CLASS, cls.label)))
                    break
        for pattern in FIXED_MODULES:
            if GLOB_CHARS.isdisjoint(pattern):  # a name or an alias (iso9660 is isofs); may not exist
                seeds += [(m, Reason(ReasonKind.FIXED, pattern)) for m in index.lookup(pattern)]
            else:
                seeds += [(m, Reason(ReasonKind.FIXED, pattern)) for m in ordered if fnmatch.fnmatchcase(m, pattern)]

    chosen: dict[str, Reason] = {}
    excluded: dict[str, None] = {}
    queue = list(seeds)
    position = 0
    while position < len(queue):
        module, reason = queue[position]
        position += 1
        if module in chosen or module not in index.paths:
            continue  # already taken, or builtin
        if matches_any(module, exclude):
            excluded.setdefault(module, None)
            continue
        chosen[module] = reason
        queue += [(dep, Reason(ReasonKind.DEPENDENCY, module)) for dep in index.deps.get(module, ())]
        pre, post = index.softdeps_of(module)
        queue += [(dep, Reason(ReasonKind.SOFTDEP_PRE, module)) for dep in pre]
        queue += [(dep, Reason(ReasonKind.SOFTDEP_POST, module)) for dep in post]
    return Selection(chosen, missing_loaded, tuple(excluded))
