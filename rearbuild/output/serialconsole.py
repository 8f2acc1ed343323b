"""The consoles of the rescue system: ReaR's USE_SERIAL_CONSOLE and SERIAL_CONSOLE_DEVICES.

The choice reaches the rescue system through the kernel command line of every boot menu entry (console=...):
the kernel, the boot loaders (isolinux's and GRUB's `serial` directive for the first ttyS port,
bootmenu.SerialConsole.from_cmdline) and the rescue init, which starts a shell on each console= terminal it
finds there, all read the same words.

ReaR (conf/default.conf; rescue/GNU/Linux/400_use_serial_console.sh): empty USE_SERIAL_CONSOLE enables the serial
consoles automatically; 'no' disables them; SERIAL_CONSOLE_DEVICES="/dev/ttyS0 /dev/ttyS1" chooses the devices
(default: the ones found). rearbuild's automatic choice is the first port, ttyS0: a rescue medium boots on other
machines, whose ports this host cannot see.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rearbuild.config.model import Config
from rearbuild.errors import UserError

# 115200 8N1: what servers' BMCs and QEMU expect, and rearbuild's choice before these settings existed (ReaR
# asks `stty` for the host port's speed, which says nothing about the machine the medium boots later).
SPEED = 115200
# A terminal device the kernel can use as console: ttyS0, ttyAMA0, hvc0, ttyUSB0 ... (kernel-parameters.txt,
# "console=").
_DEVICE = re.compile(r"(?:/dev/)?((?:tty[A-Za-z]*|hvc)[0-9]+)")
# The local console first: the kernel makes the last console= /dev/console (where messages and the automatic
# recovery go), which is the serial line on a headless server.
LOCAL = "console=tty0"


@dataclass(frozen=True)
class SerialSettings:
    devices: tuple[str, ...] = ("ttyS0",)  # kernel names, in the user's order; () = no serial console

    @classmethod
    def parse(
        cls, use: bool | None, devices: Sequence[str], *, where: str = "SERIAL_CONSOLE_DEVICES"
    ) -> SerialSettings:
        if use is False:
            return cls(())
        names: list[str] = []
        for device in devices:
            match = _DEVICE.fullmatch(device)
            if match is None:
                raise UserError(
                    f"{where}: {device!r} is no serial terminal device",
                    hint='name terminal devices, e.g. SERIAL_CONSOLE_DEVICES="/dev/ttyS0 /dev/ttyS1"',
                )
            names.append(match.group(1))
        return cls(tuple(dict.fromkeys(names)) or ("ttyS0",))

    @classmethod
    def from_config(cls, config: Config) -> SerialSettings:
        return cls.parse(config.tristate("USE_SERIAL_CONSOLE"), config.items("SERIAL_CONSOLE_DEVICES"),
                         where=config.where("SERIAL_CONSOLE_DEVICES"))  # fmt: skip

    def kernel_consoles(self) -> tuple[str, ...]:
        return (LOCAL, *(f"console={d},{SPEED}" for d in self.devices))
