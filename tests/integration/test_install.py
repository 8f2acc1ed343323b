"""`pip install <checkout>` gives a working command outside the checkout: the shipped configuration, recipes,
skeleton and templates are inside the installed package (not read from the source tree), and it builds a rescue
image."""

from __future__ import annotations

import os
import subprocess
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def test_installed_package_works_outside_the_checkout(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", str(venv)], check=True)
    # a real install: the wheel and its dependencies (jinja2, pycdlib) from the package index
    subprocess.run([str(venv / "bin/pip"), "install", "-q", str(REPO)],
                   check=True, capture_output=True, cwd=tmp_path)  # fmt: skip
    etc = tmp_path / "etc"
    etc.mkdir()
    out = tmp_path / "out"
    (etc / "local.conf").write_text(f"OUTPUT=ISO\nOUTPUT_URL=file://{out}\nBACKUP=NETFS\nBACKUP_URL=file:///srv/backup\n")
    base = [str(venv / "bin/rearbuild"), "-c", str(etc), "--var-dir", str(tmp_path / "var"),
            "--log-dir", str(tmp_path / "log"), "--tmpdir", str(tmp_path / "tmp")]  # fmt: skip
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
    # and it builds the rescue image of this machine, with the templates and skeleton of the installed package
    image = subprocess.run([*base, "image"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=900)
    assert image.returncode == 0, image.stderr[-3000:]
    isos = list(out.glob("*/rear-*.iso"))
    assert len(isos) == 1, sorted(out.rglob("*"))
    listing = subprocess.run(["xorriso", "-indev", str(isos[0]), "-find", "/", "-type", "f"],
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "'/isolinux/isolinux.cfg'" in listing and "'/isolinux/initrd.cgz'" in listing
    assert "'/boot/grub/grub.cfg'" in listing  # rendered from share/images/iso of the installed package


def test_a_wheel_holds_only_the_current_sources(tmp_path: Path) -> None:
    """setuptools keeps build/lib between builds: a module removed from the sources must not live on in the next
    wheel (a container build installs rearbuild from a wheel, and its rescue image would carry the old module)."""
    source = tmp_path / "src"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (REPO / name).is_file():
            target.write_bytes((REPO / name).read_bytes())
    stale = source / "build/lib/rearbuild/collect/removed_long_ago.py"
    stale.parent.mkdir(parents=True)
    stale.write_text("raise SystemExit('a stale module')\n")
    subprocess.run(["/usr/bin/python3", "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(tmp_path / "wheels"), str(source)],
                   check=True, capture_output=True, cwd=tmp_path)  # fmt: skip
    (wheel,) = (tmp_path / "wheels").glob("rearbuild-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "rearbuild/collect/python.py" in names and "rearbuild/share/conf/default.conf" in names
    # the generated man page and bash completion are shipped too
    assert "rearbuild/share/man/man8/rearbuild.8" in names
    assert "rearbuild/share/bash-completion/completions/rearbuild" in names
    assert not [n for n in names if "removed_long_ago" in n]
