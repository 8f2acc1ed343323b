"""The rescue image of this machine, built once per test session with the real command line and shared by
the VM tests (building takes seconds, booting tens of seconds: build once, boot many)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from rearbuild.facts import short_hostname


@dataclass(frozen=True)
class RescueImage:
    root: Path
    iso: Path
    output_dir: Path
    build_log: str


def _build_image(root: Path, extra_conf: str = "") -> RescueImage:
    etc = root / "etc"
    etc.mkdir()
    out = root / "out"
    # The rescue entry boots after one second: the tests see the whole path from power-on to the shell.
    (etc / "local.conf").write_text(
        f"OUTPUT=ISO\nOUTPUT_URL=file://{out}\nISO_DEFAULT=manual\nISO_SYSLINUX_TIMEOUT=10\n{extra_conf}"
    )
    argv = [sys.executable, "-m", "rearbuild", "-v", "-c", str(etc), "--var-dir", str(root / "var"),
            "--log-dir", str(root / "log"), "--tmpdir", str(root / "tmp"), "image"]  # fmt: skip
    env = dict(os.environ)
    env.pop("SOURCE_DATE_EPOCH", None)
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, f"rearbuild image failed:\n{result.stderr[-4000:]}"
    host = short_hostname()
    return RescueImage(root, out / host / f"rear-{host}.iso", out / host, result.stderr)


@pytest.fixture(scope="session")
def rescue_image(tmp_path_factory: pytest.TempPathFactory) -> RescueImage:
    return _build_image(tmp_path_factory.mktemp("rescue-image"))


# Debian's signed shim (shim-signed), as ReaR's SECURE_BOOT_BOOTLOADER names it.
SIGNED_SHIM = Path("/usr/lib/shim/shimx64.efi.signed")


@pytest.fixture(scope="session")
def secure_boot_image(tmp_path_factory: pytest.TempPathFactory) -> RescueImage:
    """The rescue image built with Secure Boot switched on by the setting (not by what happens to be installed)."""
    return _build_image(tmp_path_factory.mktemp("secure-boot-image"), f"SECURE_BOOT_BOOTLOADER={SIGNED_SHIM}\n")
