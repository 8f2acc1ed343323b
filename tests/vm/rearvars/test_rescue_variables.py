"""ReaR's rescue-system variables, seen in a booted rescue system (one BIOS boot under TCG):
SERIAL_CONSOLE_DEVICES moves the boot menu, the kernel console and the rescue shell to /dev/ttyS1 (and nothing
comes up on ttyS0); CLONE_USERS/CLONE_GROUPS put the host's entries into /etc/passwd and /etc/group."""

from __future__ import annotations

import grp
import pwd
from pathlib import Path

import pytest

from tests.vm.conftest import RescueImage
from tests.vm.qemu import Guest, cdrom, qemu

pytestmark = [pytest.mark.slow, pytest.mark.vm]

READY = r"rearbuild rescue system ready"
# The machine is shared and TCG is slow: generous (vm-testing-notes.md).
BOOT_TIMEOUT = 400


def test_serial_console_devices_and_cloned_accounts(rear_variables_image: RescueImage, tmp_path: Path) -> None:
    first_port = tmp_path / "ttyS0.log"
    argv = qemu(*cdrom(rear_variables_image.iso))
    at = argv.index("stdio")
    # ttyS0 goes to a file, ttyS1 is the Guest's console (stdio)
    argv[at - 1 : at + 1] = ["-serial", f"file:{first_port}", "-serial", "stdio"]
    guest = Guest(argv, tmp_path / "ttyS1.log")
    try:
        guest.wait_for(READY, BOOT_TIMEOUT)
        menu = guest.console.split("rearbuild: starting the rescue system")[0]
        assert "Relax-and-Recover (rearbuild) rescue system" in menu, "the boot menu is not on ttyS1"
        guest.wait_for(r"RESCUE [^\n]*# ", 60)
        status, out = guest.shell("cat /proc/cmdline")
        assert status == 0 and "console=ttyS1,115200" in out.split() and "console=ttyS0,115200" not in out
        user, group = pwd.getpwnam("backup"), grp.getgrnam("tape")
        status, out = guest.shell("grep -E '^(backup|tape):' /etc/passwd /etc/group")
        assert status == 0, out
        assert f"/etc/passwd:backup:x:{user.pw_uid}:{user.pw_gid}:" in out
        assert f"/etc/group:tape:x:{group.gr_gid}:" in out
        assert READY not in first_port.read_text(errors="replace"), "the rescue system came up on ttyS0 too"
    finally:
        guest.close()
