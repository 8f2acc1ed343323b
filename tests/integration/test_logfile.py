"""ReaR's LOGFILE: the run's log saved at its end under the name the configuration gives (0600), also when the
run failed; something that is no regular file is left alone."""

from __future__ import annotations

import os
import stat

import pytest

from tests.conftest import RearEnv
from tests.integration.conftest import Cli

pytestmark = pytest.mark.slow


def test_logfile_keeps_the_log_of_a_run_under_the_users_name(env: RearEnv, cli: Cli) -> None:
    wanted = env.root / "mylogs" / "rear.log"
    env.write("etc/local.conf", f"BOOTLOADER=LILO\nLOGFILE={wanted}\n")
    assert cli("mkrescue")[0] == 1
    assert "BOOTLOADER=LILO (the Linux loader) is not one rearbuild can install" in wanted.read_text()
    assert wanted.stat().st_mode & 0o777 == 0o600


def test_a_logfile_that_is_no_regular_file_is_left_alone(env: RearEnv, cli: Cli) -> None:
    fifo = env.root / "fifo"
    os.mkfifo(fifo)  # like /dev/null: exists, is no regular file
    env.write("etc/local.conf", f"BOOTLOADER=LILO\nLOGFILE={fifo}\n")
    assert cli("mkrescue")[0] == 1
    assert stat.S_ISFIFO(fifo.stat().st_mode)
