"""The log file of a run (rearbuild.log): stages, recipes, commands and errors; the previous log kept as .old."""

from __future__ import annotations

import os
from collections.abc import Callable

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
