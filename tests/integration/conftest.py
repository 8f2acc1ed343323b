"""Fixtures of the integration tests that run the real command line with the shipped recipes."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from rearbuild.cli import main
from rearbuild.paths import default_share_dir
from tests.conftest import RearEnv

Cli = Callable[..., tuple[int, str]]


@pytest.fixture
def env(rear_env: RearEnv) -> RearEnv:
    """rear_env with the shipped recipes (share dir = the checkout's or the package's)."""
    return dataclasses.replace(rear_env, share_dir=default_share_dir())


@pytest.fixture
def cli(env: RearEnv, capsys: pytest.CaptureFixture[str]) -> Cli:
    """Run rearbuild in env; (exit status, stdout + stderr)."""

    def call(*args: str) -> tuple[int, str]:
        status = main(env.argv(*args))
        out, err = capsys.readouterr()
        return status, out + err

    return call
