"""The parsed tool outputs capture combines (lsblk, blkid, findmnt), with lookups by device name."""

from __future__ import annotations

from dataclasses import dataclass, field

from rearbuild.collect.disk import blockfacts as bf
from rearbuild.collect.disk.probe import Probe


@dataclass
class Facts:
    """The parsed tool outputs capture combines, with lookups by name."""

    probe: Probe
    devices: tuple[bf.BlockDev, ...]
    superblocks: dict[str, bf.Superblock]
    mounts: tuple[bf.Mount, ...]
    by_name: dict[str, bf.BlockDev] = field(default_factory=dict)
    canonical: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for dev in self.devices:
            self.by_name.setdefault(dev.name, dev)
            self.canonical.setdefault(dev.name, dev.name)
            self.canonical.setdefault(dev.kname, dev.name)

    def name(self, device: str) -> str:
        """lsblk's name for a device path (/dev/dm-2 -> /dev/mapper/vg0-swap)."""
        return self.canonical.get(device, device)

    def parents(self, device: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.name(d.parent) for d in self.devices if d.name == device and d.parent))

    def children(self, device: str) -> tuple[bf.BlockDev, ...]:
        seen: dict[str, bf.BlockDev] = {}
        for d in self.devices:
            if d.parent is not None and self.name(d.parent) == device:
                seen.setdefault(d.name, d)
        return tuple(seen.values())

    def of_kind(self, kind: bf.DevKind) -> tuple[bf.BlockDev, ...]:
        return tuple(d for name, d in self.by_name.items() if d.kind is kind)

    def superblock(self, device: str) -> bf.Superblock | None:
        dev = self.by_name.get(device)
        for key in (device, dev.kname if dev else None):
            if key is not None and key in self.superblocks:
                return self.superblocks[key]
        return None

    def fstype(self, device: str) -> str | None:
        sb = self.superblock(device)
        if sb is not None and sb.type:
            return sb.type
        dev = self.by_name.get(device)
        if dev is not None and dev.fstype:
            return dev.fstype
        return next((m.fstype for m in self.mounts if self.name(m.source) == device), None)

    def uuid_label(self, device: str) -> tuple[str | None, str]:
        sb = self.superblock(device)
        dev = self.by_name.get(device)
        uuid = (sb.uuid if sb else None) or (dev.uuid if dev else None)
        label = (sb.label if sb else None) or (dev.label if dev else None)
        return uuid, label or ""
