"""Build areas: a killed run's is removed by the next run, a live one, a kept one and ReaR's are not."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from rearbuild import buildarea
from rearbuild.buildarea import BuildArea


def test_only_the_areas_of_killed_runs_are_swept(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    live = BuildArea(tmp_path)
    dead = BuildArea(tmp_path)
    dead.release()  # what the kernel does when the run is killed
    kept = BuildArea(tmp_path)
    kept.keep()
    rears = tmp_path / "rear.ReaRsOwnBuildDir"  # ReaR's mktemp: no marker
    rears.mkdir()
    with caplog.at_level(logging.INFO, logger="rearbuild"):
        buildarea.sweep(tmp_path)
    assert not dead.path.exists()
    assert live.path.is_dir() and kept.path.is_dir() and rears.is_dir()
    assert f"removed the build area {dead.path} left by an interrupted run" in caplog.text
    live.remove()
    assert not live.path.exists()
    shutil.rmtree(kept.path)
