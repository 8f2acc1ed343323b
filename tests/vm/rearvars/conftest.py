"""One rescue image built with ReaR's rescue-system variables set (one build, one boot, several checks)."""

from __future__ import annotations

import pytest

from rearbuild.facts import short_hostname
from tests.vm.conftest import RescueImage, _build_image

# The second serial port only: the boot menu, the kernel and the shell must all move there.
LOCAL_CONF = """OUTPUT=ISO
ISO_DEFAULT=manual
ISO_SYSLINUX_TIMEOUT=10
USE_SERIAL_CONSOLE=y
SERIAL_CONSOLE_DEVICES="/dev/ttyS1"
CLONE_USERS=( backup )
CLONE_GROUPS=( tape )
"""


@pytest.fixture(scope="session")
def rear_variables_image(tmp_path_factory: pytest.TempPathFactory) -> RescueImage:
    root = tmp_path_factory.mktemp("rear-variables-image")
    output_dir, log = _build_image(root, LOCAL_CONF)
    return RescueImage(root, output_dir / f"rear-{short_hostname()}.iso", output_dir, log)
