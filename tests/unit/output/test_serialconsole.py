"""USE_SERIAL_CONSOLE and SERIAL_CONSOLE_DEVICES: the rescue kernel's console= words, and the boot menus talking on
the port those words name."""

from __future__ import annotations

import pytest

from rearbuild.errors import UserError
from rearbuild.facts import KernelCmdline
from rearbuild.output.bootmenu import SerialConsole
from rearbuild.output.rescue_iso import kernel_cmdline
from rearbuild.output.serialconsole import SerialSettings
from tests.conftest import RearEnv, shipped_config
from tests.unit.output.test_bootmenu import TEMPLATES, _menu


def test_the_default_is_the_first_serial_port_and_the_screen() -> None:
    assert SerialSettings.parse(None, ()).kernel_consoles() == ("console=tty0", "console=ttyS0,115200")


def test_use_serial_console_no_leaves_the_screen_only() -> None:
    consoles = SerialSettings.parse(False, ("/dev/ttyS1",)).kernel_consoles()
    assert consoles == ("console=tty0",)
    assert SerialConsole.from_cmdline(consoles) is None
    assert "serial" not in TEMPLATES.isolinux_cfg(_menu(cmdline=consoles, serial=SerialConsole.from_cmdline(consoles)))


def test_serial_console_devices_choose_the_ports_in_order() -> None:
    consoles = SerialSettings.parse(True, ("/dev/ttyS1", "ttyS0", "/dev/ttyS1")).kernel_consoles()
    assert consoles == ("console=tty0", "console=ttyS1,115200", "console=ttyS0,115200")
    port = SerialConsole.from_cmdline(consoles)
    assert port == SerialConsole(unit=1, speed=115200)
    menu = _menu(cmdline=consoles, serial=port)
    assert TEMPLATES.isolinux_cfg(menu).startswith("serial 1 115200\n")
    grub = TEMPLATES.grub_cfg(menu)
    assert "serial --unit=1 --speed=115200" in grub and "console=ttyS1,115200 console=ttyS0,115200" in grub


def test_a_port_without_speed_is_the_kernels_9600() -> None:
    assert SerialConsole.from_cmdline(("quiet", "console=ttyS2")) == SerialConsole(unit=2, speed=9600)


def test_a_device_that_is_no_terminal_is_refused_with_where_it_was_set() -> None:
    with pytest.raises(UserError) as raised:
        SerialSettings.parse(None, ("/dev/sda",), where="/etc/rear/local.conf:3")
    assert raised.value.message == "/etc/rear/local.conf:3: '/dev/sda' is no serial terminal device"


def test_the_rescue_command_line_follows_the_configuration(rear_env: RearEnv) -> None:
    config = shipped_config(rear_env, 'SERIAL_CONSOLE_DEVICES="/dev/ttyS1"\nKERNEL_CMDLINE="quiet"\n', "mkrescue")
    running = KernelCmdline(("BOOT_IMAGE=/vmlinuz", "net.ifnames=0"))
    assert kernel_cmdline(config, running) == ["console=tty0", "console=ttyS1,115200", "quiet", "net.ifnames=0"]
    config = shipped_config(rear_env, "USE_SERIAL_CONSOLE=no\n", "mkrescue")
    assert kernel_cmdline(config, running) == ["console=tty0", "net.ifnames=0"]
