"""Shared fixtures: a rearbuild installation redirected into a temporary directory."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from rearbuild.cli import main
from rearbuild.config.loader import LoadRequest, load
from rearbuild.config.model import Config
from rearbuild.facts import detect
from rearbuild.paths import Paths, default_share_dir


@dataclass
class RearEnv:
    """Every directory rearbuild uses, inside tmp_path."""

    root: Path
    config_dir: Path
    var_dir: Path
    log_dir: Path
    tmpdir: Path
    share_dir: Path

    def argv(self, *args: str) -> list[str]:
        return [
            "-c",
            str(self.config_dir),
            "--var-dir",
            str(self.var_dir),
            "--log-dir",
            str(self.log_dir),
            "--tmpdir",
            str(self.tmpdir),
            "--share-dir",
            str(self.share_dir),
            *args,
        ]

    def command(self, *args: str) -> list[str]:
        """The same as a separate process (for signals and locks)."""
        return [sys.executable, "-m", "rearbuild", *self.argv(*args)]

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def build_dirs(self) -> list[Path]:
        return sorted(self.tmpdir.glob("rear.*"))


@pytest.fixture
def rear_env(tmp_path: Path) -> RearEnv:
    """A private installation: an empty share dir except the shipped default.conf, and empty state dirs."""
    env = RearEnv(tmp_path, tmp_path / "etc", tmp_path / "var", tmp_path / "log", tmp_path / "tmp", tmp_path / "share")
    for d in (env.config_dir, env.var_dir, env.log_dir, env.tmpdir):
        d.mkdir()
    (env.share_dir / "conf").mkdir(parents=True)
    shutil.copy(default_share_dir() / "conf" / "default.conf", env.share_dir / "conf" / "default.conf")
    return env


@pytest.fixture
def rearbuild(rear_env: RearEnv, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run the command line in this process against rear_env; returns (status, stdout, stderr)."""

    def call(*args: str) -> tuple[int, str, str]:
        status = main(rear_env.argv(*args))
        out, err = capsys.readouterr()
        return status, out, err

    return call


def shipped_config(env: RearEnv, local_conf: str, workflow: str = "mkbackup") -> Config:
    """The effective configuration of the shipped default.conf plus local_conf, as a run would read it."""
    env.write("etc/local.conf", local_conf)
    paths = Paths.resolve(config_dir=str(env.config_dir), var_dir=str(env.var_dir), log_dir=str(env.log_dir),
                          share_dir=str(env.share_dir), tmpdir=str(env.tmpdir))  # fmt: skip
    request = LoadRequest(paths=paths, workflow=workflow, facts=detect(), readonly={}, presets={"HOSTNAME": "host"})
    return load(request)[0]
