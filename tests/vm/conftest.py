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


@pytest.fixture(scope="session")
def rescue_image(tmp_path_factory: pytest.TempPathFactory) -> RescueImage:
    root = tmp_path_factory.mktemp("rescue-image")
    # The rescue entry boots after one second: the tests see the whole path from power-on to the shell.
    output_dir, log = _build_image(root, "OUTPUT=ISO\nISO_DEFAULT=manual\nISO_SYSLINUX_TIMEOUT=10\n")
    return RescueImage(root, output_dir / f"rear-{short_hostname()}.iso", output_dir, log)


@dataclass(frozen=True)
class UkiImages:
    """The rescue system as unified kernel images: `unsigned` (OUTPUT=UKI) and `signed` (ReaR's EFI_STUB=y with
    UKI_SIGN_KEY/UKI_SIGN_CERT), and the test certificate the signed one verifies with."""

    unsigned: Path
    signed: Path
    cert: Path


def _build_image(root: Path, local_conf: str) -> tuple[Path, str]:
    """`rearbuild image` with this local.conf (OUTPUT_URL added); returns this host's output directory and the
    build's standard error."""
    etc = root / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    out = root / "out"
    (etc / "local.conf").write_text(f"OUTPUT_URL=file://{out}\n{local_conf}")
    argv = [sys.executable, "-m", "rearbuild", "-v", "-c", str(etc), "--var-dir", str(root / "var"),
            "--log-dir", str(root / "log"), "--tmpdir", str(root / "tmp"), "image"]  # fmt: skip
    env = dict(os.environ)
    env.pop("SOURCE_DATE_EPOCH", None)
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, f"rearbuild image failed:\n{result.stderr[-4000:]}"
    return out / short_hostname(), result.stderr


@pytest.fixture(scope="session")
def uki_images(tmp_path_factory: pytest.TempPathFactory) -> UkiImages:
    root = tmp_path_factory.mktemp("uki")
    keys = root / "keys"
    keys.mkdir()
    key, cert = keys / "db.key", keys / "db.crt"
    argv = ["openssl", "req", "-new", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert]
    subprocess.run([*argv, "-days", "3650", "-subj", "/CN=rearbuild VM test db"], check=True, capture_output=True)
    name = f"rear-{short_hostname()}.efi"
    unsigned = _build_image(root / "unsigned", "OUTPUT=UKI\n")[0] / name
    signed = _build_image(root / "signed", f"EFI_STUB=y\nUKI_SIGN_KEY={key}\nUKI_SIGN_CERT={cert}\n")[0] / name
    return UkiImages(unsigned, signed, cert)


# Debian's signed shim (shim-signed), as ReaR's SECURE_BOOT_BOOTLOADER names it.
SIGNED_SHIM = Path("/usr/lib/shim/shimx64.efi.signed")


@pytest.fixture(scope="session")
def secure_boot_image(tmp_path_factory: pytest.TempPathFactory) -> RescueImage:
    """The rescue image built with Secure Boot switched on by the setting (not by what happens to be installed)."""
    root = tmp_path_factory.mktemp("secure-boot-image")
    output_dir, log = _build_image(
        root, f"OUTPUT=ISO\nISO_DEFAULT=manual\nISO_SYSLINUX_TIMEOUT=10\nSECURE_BOOT_BOOTLOADER={SIGNED_SHIM}\n"
    )
    return RescueImage(root, output_dir / f"rear-{short_hostname()}.iso", output_dir, log)
