"""ReaR's workflows and options (issue 10, items 4 and 5): layoutonly, finalizeonly, shell, -p, -D/--debugscripts,
-s running the prep checks, and a checklayout that prints nothing when nothing changed (cron mails output)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from rearbuild.paths import default_share_dir
from tests.conftest import RearEnv

pytestmark = pytest.mark.slow

Run = Callable[..., tuple[int, str, str]]
FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.fixture
def shipped(rear_env: RearEnv) -> RearEnv:
    """rear_env with the shipped recipes."""
    (rear_env.share_dir / "recipes").symlink_to(default_share_dir() / "recipes")
    return rear_env


def test_checklayout_prints_nothing_when_the_layout_is_unchanged(shipped: RearEnv, rearbuild: Run) -> None:
    assert rearbuild("savelayout")[0] == 0
    assert rearbuild("checklayout") == (0, "", "")
    # what it kept off the terminal is in the log
    assert "the disk layout is unchanged" in (shipped.log_dir / f"{_host()}.log.lockless").read_text()
    saved = shipped.var_dir / "layout" / "disklayout.conf"
    saved.write_text(saved.read_text() + "disk /dev/sdz 1073741824 gpt\n")
    status, out, err = rearbuild("checklayout")
    assert status == 1 and out == "" and "the disk layout changed" in err


def _host() -> str:
    from rearbuild.facts import detect

    return f"rear-{detect().hostname}"


def test_layoutonly_recreates_the_layout_and_restores_nothing(shipped: RearEnv, rearbuild: Run) -> None:
    shutil.copy(FIXTURES / "layout" / "rear_example_a.conf", shipped.var_dir / "layout.conf")
    shipped.write("etc/local.conf", f"DISKLAYOUT_FILE={shipped.var_dir / 'layout.conf'}\nBACKUP=NETFS\n"
                  "BACKUP_URL=file:///nonexistent\n")  # fmt: skip
    status, listing, _ = rearbuild("-s", "layoutonly")
    assert status == 0
    assert "layout/recreate/default/200_run_disk_plan.py" in listing and "restore/" not in listing
    # the backup method's archive check does not stop it: no backup is read
    status, out, err = rearbuild("layoutonly", "--plan")
    assert status == 0, err
    assert out.startswith("#!/bin/bash") and "mkfs" in out
    status, _, err = rearbuild("layoutonly")
    assert status == 1 and "runs only in the rescue system" in err


def test_finalizeonly_finalizes_what_is_mounted(shipped: RearEnv, rearbuild: Run, tmp_path: Path) -> None:
    status, _, err = rearbuild("finalizeonly")
    assert status == 1 and "runs only in the rescue system" in err
    (tmp_path / "restored" / "etc").mkdir(parents=True)
    status, _, err = rearbuild("finalizeonly", "--demo", str(tmp_path / "restored"))
    assert status == 0, err
    assert "would now patch device names and UUIDs, check the initramfs and install the boot loader" in err


@pytest.mark.parametrize(("flags", "mode"), [((), ""), (("-p",), "y")])
def test_shell_has_the_runs_environment_and_p_is_recovery_mode(
    shipped: RearEnv, flags: tuple[str, ...], mode: str
) -> None:
    shipped.write("etc/local.conf", "OUTPUT_URL=file:///srv/rescue\n")
    done = subprocess.run(
        shipped.command(*flags, "shell"),
        input='echo "[$OUTPUT_URL] [$RECOVERY_MODE] $(is_true yes && echo functions)"; exit 3\n',
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert f"[file:///srv/rescue] [{mode}] functions" in done.stdout


def test_D_traces_recipes_and_commands_on_the_terminal_and_the_log(shipped: RearEnv, rearbuild: Run) -> None:
    shipped.write("etc/recipes/layout/save/500_mine.sh", "MINE=traced\n")
    status, _, err = rearbuild("-D", "savelayout")
    assert status == 0, err
    assert "recipe layout/save/GNU/Linux/100_capture_layout.py ..." in err  # entered
    assert "recipe layout/save/GNU/Linux/100_capture_layout.py: " in err  # left, with its time
    assert "run: lsblk " in err  # every external command with its argv
    log = (shipped.log_dir / f"{_host()}.log").read_text()
    assert "run: lsblk " in log and "+ MINE=traced" in log  # the shell recipe ran with set -x
    status, _, err = rearbuild("-d", "savelayout")
    assert status == 0 and "run: lsblk" not in err  # -d alone does not trace commands


def test_debugscripts_takes_bash_option_letters(shipped: RearEnv, rearbuild: Run) -> None:
    shipped.write("etc/recipes/layout/save/500_mine.sh", "MINE=traced\n")
    assert rearbuild("--debugscripts", "xv", "savelayout")[0] == 0
    log = (shipped.log_dir / f"{_host()}.log").read_text()
    assert "MINE=traced\n" in log and "+ MINE=traced" in log  # -v echoes the line, -x traces it
    status, _, err = rearbuild("--debugscripts", "x;rm", "savelayout")
    assert status == 1 and "is not a set of bash option letters" in err


def test_s_runs_the_prep_checks(shipped: RearEnv, rearbuild: Run) -> None:
    shipped.write("etc/local.conf", "OUTPUT=UKI\nUKI_SIGN_KEY=/etc/key.pem\n")
    status, out, err = rearbuild("-s", "mkrescue")
    assert status == 1
    assert "prep/UKI/default/050_check_uki.py" in out  # the listing still comes first
    assert "UKI_SIGN_CERT is empty" in err
    assert list(shipped.tmpdir.iterdir()) == []  # no build area
    shipped.write("etc/local.conf", "OUTPUT=ISO\n")
    status, _, err = rearbuild("-s", "mkrescue")
    assert status == 0 and "prep checks passed" in err


def test_v_shows_missing_firmware_as_one_summary_line(shipped: RearEnv, rearbuild: Run) -> None:
    status, _, err = rearbuild("-v", "collect", "-o", str(shipped.root / "manifest.json"))
    assert status == 0, err
    log = (shipped.log_dir / f"{_host()}.log").read_text()
    missing = len(re.findall(r"firmware \S+ \(for .+\) is not on this host", log))
    assert missing > 0  # a Debian kernel's modules name firmware no host has all of
    assert "is not on this host" not in err
    summary = [line for line in err.splitlines() if "firmware files missing" in line]
    assert len(summary) == 1 and "listed in the log and the manifest" in summary[0]
    assert err.splitlines()[0].startswith("rearbuild ") and "argv: " in err.splitlines()[0]
    assert "['" not in err.splitlines()[0]  # the command line as typed, not a Python list
    assert "(PROGS) is not on this host" not in err and err.count("of PROGS are not on this host") <= 1
    # the stage timings once, at the end
    assert err.count("stage timings:") == 1 and err.count("stage rescue: ") == 1 and "stage rescue ..." not in err


def test_mountonly_plan_opens_and_mounts_and_creates_nothing(shipped: RearEnv, rearbuild: Run) -> None:
    (shipped.var_dir / "layout").mkdir()
    shutil.copy(FIXTURES / "layout" / "rear_example_a.conf", shipped.var_dir / "layout" / "disklayout.conf")
    status, out, err = rearbuild("mountonly", "--plan")
    assert status == 0, err
    assert "cryptsetup open --type luks --key-file - /dev/sda2 disk" in out and "vgchange" in out
    assert "mount -t ext4 -o rw,commit=0 /dev/mapper/system-root /mnt/local\n" in out
    assert not any(word in out for word in ("mkfs", "luksFormat", "pvcreate", "lvcreate", "sfdisk", "wipefs"))
    status, _, err = rearbuild("mountonly")
    assert status == 1 and "runs only in the rescue system" in err
