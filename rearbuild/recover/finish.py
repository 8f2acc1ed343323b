"""The end of an unattended recovery (kernel option `unattended`): UNATTENDED_FINISH says whether the machine
reboots into the recovered system (ReaR's behaviour), powers off, or stays in the rescue shell."""

from __future__ import annotations

import enum
from pathlib import Path

from rearbuild.errors import UserError
from rearbuild.log import notice
from rearbuild.run import run

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

    def perform(self, target_root: Path, trigger: Path = SYSRQ_TRIGGER) -> None:
        """Leave the recovered file systems clean, then reboot or power off; SHELL does nothing."""
        if self is Finish.SHELL:
            return
        run(["sync"], check=False)
        run(["umount", "-R", str(target_root)], check=False)
        notice("unattended recovery finished: %s", self.value)
        # The rescue system has no service manager to ask (Debian's reboot is systemctl): SysRq does it directly.
        with open(trigger, "w") as sysrq:
            sysrq.write("s")
            sysrq.flush()
            sysrq.write("o" if self is Finish.POWEROFF else "b")
