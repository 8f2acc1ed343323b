"""`rearbuild collect` on this machine: a sensible, deterministic manifest; bad input stops before any work."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from rearbuild.manifest import EntryKind, Manifest
from tests.conftest import RearEnv

pytestmark = pytest.mark.slow

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def shipped(rear_env: RearEnv) -> RearEnv:
    """rear_env with the real shipped share dir (recipes, conf, skel)."""
    from rearbuild.paths import default_share_dir

    rear_env.share_dir = default_share_dir()
    return rear_env


def test_collect_twice_gives_identical_bytes(shipped: RearEnv, rearbuild: Run) -> None:
    first, second = shipped.root / "m1.json", shipped.root / "m2.json"
    status, _, err = rearbuild("collect", "-o", str(first))
    assert status == 0, err
    status, _, err = rearbuild("collect", "-o", str(second))
    assert status == 0, err
    assert first.read_bytes() == second.read_bytes()
    manifest = Manifest.read(first)
    paths = {f.path: f for f in manifest.files}
    # programs with their libraries and the loader, symlinks kept
    assert "/usr/bin/bash" in paths and paths["/usr/bin/bash"].sha256
    assert any(p.endswith("/libc.so.6") for p in paths)
    assert paths["/lib64"].kind is EntryKind.SYMLINK
    # the rescue system's Python and modules for the installed kernel with their indexes
    assert "/usr/bin/python3" in paths or "/usr/bin/python3.11" in paths
    assert any(p.endswith("/modules.dep.bin") for p in paths)
    assert any(p.endswith("/virtio_blk.ko") for p in paths)
    assert manifest.kernel_version and manifest.kernel_file.startswith("/boot/")
    # every file says why it is there
    assert all(f.reasons for f in manifest.files)
    assert json.loads(first.read_text())["facts"]["OS_VENDOR"]


def test_missing_required_program_stops_before_building(shipped: RearEnv, rearbuild: Run) -> None:
    shipped.write("etc/local.conf", "REQUIRED_PROGS+=( no-such-tool-xyz )\n")
    status, _, err = rearbuild("collect", "-o", str(shipped.root / "m.json"))
    assert status == 1
    assert "need are missing here: no-such-tool-xyz" in err  # in prep, before anything is collected
    assert not (shipped.root / "m.json").exists()


def test_unknown_output_method_names_file_and_line(shipped: RearEnv, rearbuild: Run) -> None:
    local = shipped.write("etc/local.conf", "\nOUTPUT=TAPEDRIVE\n")
    status, _, err = rearbuild("collect")
    assert status == 1 and f"{local}:2: OUTPUT='TAPEDRIVE' is not a method" in err and "ISO" in err


def test_several_output_methods_are_refused_as_rear_does(shipped: RearEnv, rearbuild: Run) -> None:
    local = shipped.write("etc/local.conf", 'OUTPUT="ISO PXE"\n')
    status, _, err = rearbuild("collect")
    assert status == 1 and f"{local}:1: OUTPUT='ISO PXE' names several methods; ReaR takes one" in err
    assert "Traceback" not in err and "run once per method" in err


@pytest.mark.parametrize("method", ["PXE", "RAMDISK", "CDROM"])
def test_the_seeds_output_methods_are_accepted(shipped: RearEnv, rearbuild: Run, method: str) -> None:
    # -s runs the prep checks too: CDROM needs a writable medium, here xorriso's stdio: pseudo-drive (a file)
    drive = f"CDROM_DEVICE=stdio:{shipped.root / 'cd.iso'}\n" if method == "CDROM" else ""
    shipped.write("etc/local.conf", f"OUTPUT={method}\n{drive}")
    status, out, err = rearbuild("-s", "image")
    assert status == 0, err
    assert f"output/{method}/default/" in out + err
