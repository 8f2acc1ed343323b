"""The end of an unattended recovery (kernel option `unattended`): UNATTENDED_FINISH says whether the machine
reboots into the recovered system (ReaR's behaviour), powers off, or stays in the rescue shell."""

from __future__ import annotations

import enum
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from rearbuild.errors import UserError
from rearbuild.log import notice
from rearbuild.recover.plan import LVM_CONFIG
from rearbuild.run import run

log = logging.getLogger("rearbuild.recover")

# Device-mapper devices in sysfs (Documentation/admin-guide/device-mapper): dm/name is the mapping's name,
# dm/uuid starts with "CRYPT-" for dm-crypt mappings that cryptsetup made (LVM's start with "LVM-").
SYS_BLOCK = Path("/sys/block")

# The kernel's magic SysRq (Documentation/admin-guide/sysrq.rst): s = sync, o = power off, b = reboot.
SYSRQ_TRIGGER = Path("/proc/sysrq-trigger")


class Finish(enum.Enum):
    REBOOT = "reboot"
    POWEROFF = "poweroff"
    SHELL = "shell"

    @classmethod
    def parse(cls, word: str) -> Finish:
        word = word.strip().lower()
        if word in ("", "none"):  # nothing to do: the operator gets the shell
            return cls.SHELL
        try:
            return cls(word)
        except ValueError:
            raise UserError(
                f"UNATTENDED_FINISH={word!r} is not one of reboot, poweroff, shell",
                hint="set UNATTENDED_FINISH=reboot (ReaR's behaviour), poweroff or shell",
            ) from None

    def perform(
        self, target_root: Path, trigger: Path = SYSRQ_TRIGGER, release: Callable[[Path], None] | None = None
    ) -> None:
        """Leave the recovered file systems and the storage stack under them clean (`release`, the rescue
        system's whole stack by default), then reboot or power off; SHELL does nothing."""
        if self is Finish.SHELL:
            return
        (release or release_storage)(target_root)
        notice("unattended recovery finished: %s", self.value)
        # The rescue system has no service manager to ask (Debian's reboot is systemctl): SysRq does it directly.
        # SysRq's own sync ("s") only queues the writeback and "b" does not wait for it; everything was made
        # clean and flushed synchronously above, so "b"/"o" comes last and alone.
        with open(trigger, "w") as sysrq:
            sysrq.write("o" if self is Finish.POWEROFF else "b")


def release_storage(target_root: Path, sys_block: Path = SYS_BLOCK) -> None:
    """Unmount the target and take the stack down from the top, as a shutdown does: LVM volume groups,
    dm-crypt mappings, then MD arrays. An array that is stopped has a clean superblock; one that is still
    active when the machine resets is dirty, and the recovered system's first boot resyncs it in full
    (md(4) "UNCLEAN SHUTDOWN") although the plan created it --assume-clean. Every step is best effort: what
    cannot be released is logged, and the reboot still happens."""
    os.sync()
    run(["umount", "-R", str(target_root)], check=False)
    run(["swapoff", "-a"], check=False)
    # Twice: LVM on LUKS on LVM needs the inner volume groups gone before the mapping under them closes.
    for _ in range(2):
        if shutil.which("lvm"):
            run(["lvm", "vgchange", "--config", LVM_CONFIG, "--activate", "n"], check=False)
        if shutil.which("cryptsetup"):
            for name in crypt_mappings(sys_block):
                run(["cryptsetup", "close", name], check=False)
    if shutil.which("mdadm"):
        run(["mdadm", "--stop", "--scan"], check=False)
    os.sync()
    left = crypt_mappings(sys_block) + [p.name for p in sys_block.glob("md*")]
    if left:
        log.warning("still active at the reboot (their next start may check or resync them): %s", " ".join(left))


def crypt_mappings(sys_block: Path = SYS_BLOCK) -> list[str]:
    """The names of the open dm-crypt mappings."""
    names = []
    for dm in sorted(sys_block.glob("dm-*/dm")):
        try:
            if (dm / "uuid").read_text().startswith("CRYPT-"):
                names.append((dm / "name").read_text().strip())
        except OSError:
            continue  # gone meanwhile
    return names
