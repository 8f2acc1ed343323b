"""The log file of a run (rearbuild.log): stages, recipes, commands and errors; the previous log kept as .old."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from rearbuild.log import copy_log_below
from tests.conftest import RearEnv

Run = Callable[..., tuple[int, str, str]]


def test_log_file_records_stages_recipes_commands_and_errors(rear_env: RearEnv, rearbuild: Run) -> None:
    rear_env.write(
        "share/recipes/layout/save/default/100_cmd.py",
        "from rearbuild.run import run\n\ndef main(ctx):\n    run(['echo', 'hello-output'])\n",
    )
    host = os.uname().nodename.split(".")[0]
    assert rearbuild("-D", "savelayout")[0] == 0
    log = (rear_env.log_dir / f"rear-{host}.log").read_text()
    assert "stage layout/save:" in log and "recipe layout/save/default/100_cmd.py:" in log
    assert "run: echo hello-output" in log and "exited with status 0" in log
    assert "hello-output" in log  # -D logs command output
    # a failing run: the error is in the log with the traceback; the previous log is kept as .old
    rear_env.write(
        "share/recipes/layout/save/default/200_bad.py",
        "from rearbuild.run import run\n\ndef main(ctx):\n    run(['false'])\n",
    )
    status, _, err = rearbuild("savelayout")
    assert status == 1 and "false exited with status 1" in err and "Traceback" not in err
    log = (rear_env.log_dir / f"rear-{host}.log").read_text()
    assert "false exited with status 1" in log and "Traceback" in log
    assert (rear_env.log_dir / f"rear-{host}.log.old").exists()


@pytest.fixture
def quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    """No handlers left from a CLI run in this process (their captured streams are closed by now)."""
    monkeypatch.setattr(logging.getLogger("rearbuild"), "handlers", [])


@pytest.mark.usefixtures("quiet")
def test_the_recovery_log_stays_below_the_target(tmp_path: Path) -> None:
    """var/log -> <elsewhere> in the restored system is its own <elsewhere>: the log goes there, below the target,
    and replaces a link in its place instead of writing through it."""
    log_file, target, elsewhere = tmp_path / "run.log", tmp_path / "target", tmp_path / "elsewhere"
    log_file.write_text("what was done\n")
    (target / "var").mkdir(parents=True)
    elsewhere.mkdir()
    (target / "var/log").symlink_to(elsewhere)
    inside = target / str(elsewhere).lstrip("/")
    inside.joinpath("rear").mkdir(parents=True)
    (inside / "rear/recover.log").symlink_to(elsewhere / "victim")
    assert copy_log_below(log_file, target, "var/log/rear/recover.log") == inside / "rear/recover.log"
    assert list(elsewhere.iterdir()) == []
    assert (inside / "rear/recover.log").read_text() == "what was done\n"
    assert stat.S_IMODE((inside / "rear/recover.log").lstat().st_mode) == 0o600


@pytest.mark.usefixtures("quiet")
def test_a_recovery_log_that_cannot_be_copied_is_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a run in this process (the CLI tests) keeps rearbuild's records from the root logger caplog listens on
    monkeypatch.setattr(logging.getLogger("rearbuild"), "propagate", True)
    log_file, target = tmp_path / "run.log", tmp_path / "target"
    log_file.write_text("what was done\n")
    target.mkdir()
    (target / "var").write_text("a file where a directory belongs\n")
    assert copy_log_below(log_file, target, "var/log/rear/recover.log") is None
    assert "the recovery log was not copied to var/log/rear/recover.log" in caplog.text
