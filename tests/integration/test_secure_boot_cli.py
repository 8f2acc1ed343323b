"""Secure Boot as a setting through the real command line: `rearbuild image` with Secure Boot required stops in
prep, before anything is built, with a one-line error naming the problem and the fix; `dump` shows the host's
Secure Boot state."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pefile
import pytest

from rearbuild.output.secureboot import CERTIFICATE_TABLE

pytestmark = pytest.mark.slow

SIGNED_SHIM = Path("/usr/lib/shim/shimx64.efi.signed")
UNSIGNED_SHIM = Path("/usr/lib/shim/shimx64.efi")  # shim-signed ships the unsigned build beside the signed one


def _kernel() -> Path:
    kernels = sorted(glob.glob("/boot/vmlinuz-*"))
    assert kernels, "no kernel in /boot (apt-get install linux-image-amd64)"
    return Path(kernels[-1])


def _strip_signature(kernel: Path, out: Path) -> Path:
    """A copy of the kernel without its Authenticode signature (what `sbattach --remove` does): the Certificate
    Table cleared and the certificate cut off the end of the file."""
    image = pefile.PE(str(kernel))
    table = image.OPTIONAL_HEADER.DATA_DIRECTORY[CERTIFICATE_TABLE]
    offset = table.VirtualAddress
    assert offset and table.Size, f"{kernel} is not signed: this test needs the distribution's signed kernel"
    table.VirtualAddress = table.Size = 0
    out.write_bytes(bytes(image.write())[:offset])
    image.close()
    # independent of pefile: sbsigntool sees no signature left
    listing = subprocess.run(["sbverify", "--list", str(out)], capture_output=True, text=True)
    assert "No signature table present" in listing.stdout + listing.stderr
    return out


def _image(root: Path, conf: str) -> subprocess.CompletedProcess[str]:
    etc = root / "etc"
    etc.mkdir(parents=True)
    (etc / "local.conf").write_text(f"OUTPUT=ISO\nOUTPUT_URL=file://{root / 'out'}\n{conf}")
    argv = [sys.executable, "-m", "rearbuild", "-c", str(etc), "--var-dir", str(root / "var"),
            "--log-dir", str(root / "log"), "--tmpdir", str(root / "tmp"), "image"]  # fmt: skip
    env = dict(os.environ)
    env.pop("SOURCE_DATE_EPOCH", None)
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600, cwd=root)


def _refused_in_prep(root: Path, result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert not (root / "out").exists(), "something was published"
    log = next((root / "log").glob("*.log")).read_text()
    assert "stage rescue" not in log and "stage build" not in log, "it went on past prep"
    # one error line (then its hint)
    return [line for line in result.stderr.splitlines() if line.startswith("ERROR") and "ERROR: hint:" not in line]


def test_an_unsigned_kernel_is_refused_before_anything_is_built(tmp_path: Path) -> None:
    assert shutil.which("sbverify"), "apt-get install sbsigntool"
    unsigned = _strip_signature(_kernel(), tmp_path / "vmlinuz-unsigned")
    result = _image(tmp_path, f"SECURE_BOOT_BOOTLOADER={SIGNED_SHIM}\nKERNEL_FILE={unsigned}\n")
    errors = _refused_in_prep(tmp_path, result)
    assert len(errors) == 1 and f"the kernel {unsigned} is not signed" in errors[0], result.stderr
    assert "sbsign" in result.stderr and "SECURE_BOOT_BOOTLOADER=no" in result.stderr  # the fixes


def test_an_unsigned_or_missing_shim_is_refused_before_anything_is_built(tmp_path: Path) -> None:
    result = _image(tmp_path / "a", f"SECURE_BOOT_BOOTLOADER={UNSIGNED_SHIM}\n")
    errors = _refused_in_prep(tmp_path / "a", result)
    assert len(errors) == 1 and f"the Secure Boot shim {UNSIGNED_SHIM} is not signed" in errors[0], result.stderr
    assert "apt-get install shim-signed grub-efi-amd64-signed" in result.stderr
    missing = tmp_path / "nowhere" / "shimx64.efi"
    result = _image(tmp_path / "b", f"SECURE_BOOT_BOOTLOADER={missing}\n")
    errors = _refused_in_prep(tmp_path / "b", result)
    assert len(errors) == 1 and f"SECURE_BOOT_BOOTLOADER={missing}: no such file" in errors[0], result.stderr
    assert "shim-signed" in result.stderr


def test_dump_shows_the_secure_boot_state(rearbuild: Callable[..., tuple[int, str, str]]) -> None:
    status, out, _ = rearbuild("dump")
    assert status == 0
    line = next(line for line in out.splitlines() if "SECURE_BOOT_STATE" in line)
    # this machine: a container or VM without UEFI (bios), or whatever its firmware says
    assert line.split()[-1] in ("enabled", "disabled", "bios", "unknown")
    expected = "bios" if not Path("/sys/firmware/efi").is_dir() else line.split()[-1]
    assert line.split()[-1] == expected


def test_a_bundle_build_without_the_hosts_signed_shim_stops_before_building(tmp_path: Path) -> None:
    """Collect here, build there: the host's SECURE_BOOT_BOOTLOADER names a shim the builder lacks."""
    shim = tmp_path / "esp" / "shimx64.efi"
    shim.parent.mkdir()
    shutil.copyfile(SIGNED_SHIM, shim)
    bundle = tmp_path / "host.tar"
    root = tmp_path / "collect"
    etc = root / "etc"
    etc.mkdir(parents=True)
    (etc / "local.conf").write_text(f"OUTPUT=ISO\nSECURE_BOOT_BOOTLOADER={shim}\n")
    argv = [sys.executable, "-m", "rearbuild", "-c", str(etc), "--var-dir", str(root / "var"),
            "--log-dir", str(root / "log"), "--tmpdir", str(root / "tmp")]  # fmt: skip
    collected = subprocess.run([*argv, "collect", "--bundle", str(bundle)], capture_output=True, text=True, timeout=600)
    assert collected.returncode == 0, collected.stderr[-3000:]
    shim.unlink()  # not on the builder
    builder = tmp_path / "builder"
    etc = builder / "etc"
    etc.mkdir(parents=True)
    (etc / "local.conf").write_text(f"OUTPUT_URL=file://{builder / 'out'}\n")
    argv = [sys.executable, "-m", "rearbuild", "-c", str(etc), "--var-dir", str(builder / "var"),
            "--log-dir", str(builder / "log"), "--tmpdir", str(builder / "tmp")]  # fmt: skip
    result = subprocess.run([*argv, "build", str(bundle)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 1, result.stderr[-3000:]
    assert f"SECURE_BOOT_BOOTLOADER={shim}: no such file" in result.stderr and "Traceback" not in result.stderr
    log = next((builder / "log").glob("*.log")).read_text()
    assert "stage build" not in log, "it built before checking"
    assert not (builder / "out").exists()
