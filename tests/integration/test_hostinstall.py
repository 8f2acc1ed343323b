"""`rearbuild install --root DIR`: the man page renders with man(1) and lists every workflow and every variable,
the bash completion completes workflows, options and variables, the systemd units verify, nothing is enabled."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rearbuild.config.reference import read_reference
from rearbuild.paths import default_share_dir
from rearbuild.workflow import Workflow

pytestmark = pytest.mark.slow

VARIABLES = [v.name for v in read_reference(default_share_dir() / "conf" / "default.conf")]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("root")
    done = subprocess.run([sys.executable, "-m", "rearbuild", "install", "--root", str(root)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "not enabled" in done.stderr
    return root


def _man(root: Path) -> str:
    page = root / "usr/local/share/man/man8/rearbuild.8"
    env = {**os.environ, "MANWIDTH": "200", "MAN_KEEP_FORMATTING": "0"}
    done = subprocess.run(["man", "-l", str(page)], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr.lower(), done.stderr  # roff mistakes
    return re.sub(r".\x08", "", done.stdout)  # overstrike bold/underline when not a terminal


def test_the_man_page_lists_every_workflow_and_variable(root: Path) -> None:
    text = _man(root)
    words = set(re.findall(r"[\w-]+", text))
    assert [w.value for w in Workflow if w.value not in words] == []
    assert [name for name in VARIABLES if name not in words] == []
    assert "--debugscripts" in text and "checklayout || rearbuild mkrescue" in text


def _complete(root: Path, *words: str) -> list[str]:
    script = root / "usr/local/share/bash-completion/completions/rearbuild"
    line = " ".join(["rearbuild", *words])
    program = f"""source {script}
COMP_WORDS=({line}); COMP_CWORD={len(words)}
_rearbuild
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    done = subprocess.run(["bash", "--norc", "-c", program], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and not done.stderr, done.stderr
    return done.stdout.split()


def test_bash_completes_workflows_options_and_variables(root: Path) -> None:
    assert _complete(root, "mk") == ["mkrescue", "mkbackup", "mkbackuponly"]
    assert "layoutonly" in _complete(root, "-v", "-c", "/etc/rear", "la")
    assert "--debugscripts" in _complete(root, "--de")
    assert _complete(root, "help", "BACKUP_URL") == ["BACKUP_URL"]
    assert _complete(root, "help", "mounto") == ["mountonly"]
    assert set(_complete(root, "help", "ISO_")) == {n for n in VARIABLES if n.startswith("ISO_")}


def test_the_units_verify_and_call_checklayout_or_mkrescue(root: Path) -> None:
    units = sorted((root / "etc/systemd/system").iterdir())
    assert [u.name for u in units] == ["rearbuild-checklayout.service", "rearbuild-checklayout.timer"]
    service = units[0].read_text()
    assert re.search(r"ExecStart=/bin/sh -c '\S+ checklayout \|\| \S+ mkrescue'", service)
    # installed, not enabled: no wants/ links anywhere below the root
    assert not list(root.rglob("*.wants"))
    env = {**os.environ, "MANPATH": str(root / "usr/local/share/man")}  # Documentation=man:rearbuild(8)
    done = subprocess.run(["systemd-analyze", "verify", *map(str, units)], capture_output=True, text=True,
                          env=env, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    cron = (root / "etc/cron.d/rearbuild").read_text()
    assert re.search(r"^#30 1 \* \* \* root \S+ checklayout \|\| \S+ mkrescue$", cron, re.MULTILINE)
