"""The shared `tree` fixture: a synthetic modules tree with dependencies, softdeps, aliases and firmware names."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.collect.kmod.tree import make_tree


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    make_tree(
        tmp_path,
        {
            "kernel/fs/ext4/ext4.ko": (["kernel/lib/crc16.ko", "kernel/fs/jbd2/jbd2.ko"], []),
            "kernel/fs/jbd2/jbd2.ko": ([], []),
            "kernel/lib/crc16.ko": ([], []),
            "kernel/crypto/crc32c_generic.ko": ([], []),
            "kernel/drivers/md/dm-crypt.ko": (["kernel/drivers/md/dm-mod.ko"], []),
            "kernel/drivers/md/dm-mod.ko": ([], []),
            "kernel/drivers/net/wifi/wlan.ko.xz": ([], ["firmware=vendor/wlan.bin", "firmware=vendor/gone.bin"]),
            "kernel/drivers/net/nic.ko.gz": ([], ["firmware=nic/fw.bin"]),
            "kernel/sound/beep.ko": ([], ["firmware=beep.fw"]),
            "kernel/drivers/usb/host/uhci-hcd.ko": ([], []),
            "kernel/drivers/usb/host/ehci-hcd.ko": ([], []),
            "kernel/drivers/usb/host/ehci-pci.ko": (["kernel/drivers/usb/host/ehci-hcd.ko"], []),
            "kernel/misc/post.ko": ([], []),
            "kernel/misc/scsi_debug.ko": ([], []),
        },
        softdep=(
            "softdep ext4 pre: crypto-crc32c\n"
            "softdep jbd2 pre: crypto-crc32c\n"
            "softdep ext4 pre: post\n"  # a second entry for ext4: libkmod takes only the first
            "softdep dm_crypt post: post\n"
            "softdep uhci_hcd pre: ehci_pci\n"
        ),
        builtin=("crc32c_builtin", "unix"),
        alias="alias crypto-crc32c crc32c_generic\nalias crypto-crc32c crc32c_builtin\nalias fs-ext4 ext4\n"
        "alias pci:v00008086d*sv*sd*bc01sc06i* nic\n",
    )
    return tmp_path
