"""`rearbuild recover --plan` through the real command line on this host: it prints the plan of the saved
layout (or of a disklayout.conf in the configuration directory, which replaces it), writes nothing, and the
later stages stop cleanly. This host's disks are not the layout's, so the disk checks only warn."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rearbuild.collect.disk.capture import capture
from rearbuild.collect.disk.probe import RecordedProbe
from rearbuild.layout.disklayout import format_layout
from rearbuild.recover.planscript import steps_of

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "capture"


def recover_plan(root: Path) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "rearbuild", "-c", str(root / "etc"), "--var-dir", str(root / "var"),
            "--log-dir", str(root / "log"), "--tmpdir", str(root / "tmp"), "recover", "--plan"]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_recover_plan_prints_the_saved_layouts_plan_and_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    layout_file = tmp_path / "var/layout/disklayout.conf"
    layout_file.parent.mkdir(parents=True)
    layout_file.write_text(format_layout(capture(RecordedProbe(FIXTURES / "raid1_lvm"))))
    result = recover_plan(tmp_path)
    assert result.returncode == 0, result.stderr
    ids = [s.id for s in steps_of(result.stdout)]
    assert ids[:2] == ["wipe-vda", "wipe-vdb"] and "raid-md0" in ids and ids[-1] == "mount-fs-srv"
    assert "nothing was changed" in result.stderr
    script = tmp_path / "plan.sh"
    script.write_text(result.stdout)
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    assert not (tmp_path / "var/layout/diskrestore.sh").exists()
    assert not (tmp_path / "var/recovery/plan-done").exists()


def test_a_disklayout_conf_in_the_config_dir_replaces_the_saved_one(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "var/layout").mkdir(parents=True)
    (tmp_path / "var/layout/disklayout.conf").write_text(format_layout(capture(RecordedProbe(FIXTURES / "raid1_lvm"))))
    (tmp_path / "etc/disklayout.conf").write_text(format_layout(capture(RecordedProbe(FIXTURES / "gpt_lvm"))))
    result = recover_plan(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "migration mode" in result.stderr
    ids = [s.id for s in steps_of(result.stdout)]
    assert "vg-vg0" in ids and "raid-md0" not in ids
