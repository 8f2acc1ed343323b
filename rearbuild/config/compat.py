"""ReaR settings that rearbuild knows but cannot honour yet.

A ReaR user's local.conf must work unchanged for everything rearbuild implements; a setting listed here would
otherwise be silently ignored, so the loader refuses it, naming file and line. Remove an entry when its feature
lands.
"""

from __future__ import annotations

UNSUPPORTED: dict[str, str] = {
    "ISO_MAX_SIZE": "splitting the backup over several ISO images",
    "REAR_INITRD_OVERLAY": "the squashfs overlay (rearbuild keeps the initrd small by choosing modules by class)",
    "USE_RAMDISK": "pivoting into a sized tmpfs",
    "BARREL_DEVICEGRAPH": "recreating the layout with barrel",
    "ZVM_NAMING": "z/VM naming",
    "OPAL_PBA_DEBUG_DEVICE_COUNT": "TCG Opal pre-boot images",
}
