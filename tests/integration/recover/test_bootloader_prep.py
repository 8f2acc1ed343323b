"""BOOTLOADER and GRUB_RESCUE values recovery cannot honour stop mkrescue in prep, naming the line, before anything
is built (not at the end of a recovery)."""

from __future__ import annotations

import pytest

from tests.conftest import RearEnv
from tests.integration.conftest import Cli

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("line", "expected"), [
    ("BOOTLOADER=LILO", "local.conf:2: BOOTLOADER=LILO (the Linux loader) is not one rearbuild can install"),
    ("GRUB_RESCUE=y", "local.conf:2: GRUB_RESCUE=y (a rescue system entry in this host's GRUB menu) is not supported"),
])  # fmt: skip
def test_mkrescue_stops_in_prep(env: RearEnv, cli: Cli, line: str, expected: str) -> None:
    env.write("etc/local.conf", f"OUTPUT=ISO\n{line}\n")
    status, output = cli("mkrescue")
    assert status == 1
    assert expected in output, output
    assert not list(env.var_dir.rglob("*.iso")) and not (env.var_dir / "layout").exists()

