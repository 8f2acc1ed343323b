"""`pip install <checkout>` gives a working command outside the checkout: the shipped configuration, recipes,
skeleton and templates are inside the installed package (not read from the source tree)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def test_installed_package_works_outside_the_checkout(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", str(venv)], check=True)
    # --no-deps: dump and -s import neither jinja2 nor pycdlib (the build backend still comes from PyPI)
    subprocess.run([str(venv / "bin/pip"), "install", "-q", "--no-deps", str(REPO)],
                   check=True, capture_output=True, cwd=tmp_path)  # fmt: skip
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "local.conf").write_text("OUTPUT=ISO\nBACKUP=NETFS\nBACKUP_URL=file:///srv/backup\n")
    base = [str(venv / "bin/rearbuild"), "-c", str(etc), "--var-dir", str(tmp_path / "var"),
            "--log-dir", str(tmp_path / "log")]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("REARBUILD_")}
    dump = subprocess.run([*base, "dump"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert dump.returncode == 0, dump.stderr
    assert "BACKUP_URL='file:///srv/backup'" in dump.stdout and str(etc / "local.conf") in dump.stdout
    assert str(REPO) not in dump.stdout  # the shipped files come from the installed package
    listed = subprocess.run([*base, "-s", "mkrescue"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    stages = [line.split("/")[0] for line in listed.stdout.splitlines()]
    order = ["prep", "layout", "rescue", "build", "pack", "output"]
    assert [s for s in dict.fromkeys(stages)] == order  # every stage has recipes, in ReaR's stage order
    site = next(venv.glob("lib/python3*/site-packages/rearbuild"))
    assert (site / "share/skel/default/init").stat().st_mode & 0o111
    assert (site / "share/images/iso/isolinux.cfg.j2").is_file() and (site / "share/conf/default.conf").is_file()
