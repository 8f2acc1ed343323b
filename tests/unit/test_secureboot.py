"""Detection of the host's Secure Boot state (rearbuild.secureboot) from a fake /sys/firmware/efi."""

from __future__ import annotations

from pathlib import Path

from rearbuild.facts import detect as detect_facts
from rearbuild.secureboot import SECURE_BOOT_VARIABLE, SecureBootState, detect

NO_MOKUTIL = "/nonexistent/mokutil"


def _efi(tmp_path: Path, data: bytes | None, *, other_variable: bool = True) -> Path:
    efivars = tmp_path / "efi" / "efivars"
    efivars.mkdir(parents=True)
    if other_variable:  # efivarfs is mounted: it lists the firmware's variables
        (efivars / "BootOrder-8be4df61-93ca-11d2-aa0d-00e098032b8c").write_bytes(b"\x07\0\0\0\0\0")
    if data is not None:
        (efivars / SECURE_BOOT_VARIABLE).write_bytes(data)
    return tmp_path / "efi"


def test_the_secure_boot_variable_decides(tmp_path: Path) -> None:
    # attributes NV|BS|RT (0x6 little-endian), then the data byte
    assert detect(_efi(tmp_path / "on", b"\x06\0\0\0\x01"), mokutil=NO_MOKUTIL) is SecureBootState.ENABLED
    assert detect(_efi(tmp_path / "off", b"\x06\0\0\0\x00"), mokutil=NO_MOKUTIL) is SecureBootState.DISABLED


def test_bios_and_firmware_without_secure_boot(tmp_path: Path) -> None:
    assert detect(tmp_path / "absent", mokutil=NO_MOKUTIL) is SecureBootState.BIOS
    assert detect(_efi(tmp_path, None), mokutil=NO_MOKUTIL) is SecureBootState.DISABLED


def _mokutil(tmp_path: Path, text: str) -> str:
    script = tmp_path / "mokutil"
    script.write_text(f"#!/bin/sh\n[ \"$1\" = --sb-state ] && echo '{text}'\n")
    script.chmod(0o755)
    return str(script)


def test_mokutil_answers_when_efivarfs_cannot(tmp_path: Path) -> None:
    unmounted = _efi(tmp_path / "a", None, other_variable=False)
    assert detect(unmounted, mokutil=_mokutil(tmp_path, "SecureBoot enabled")) is SecureBootState.ENABLED
    assert detect(unmounted, mokutil=NO_MOKUTIL) is SecureBootState.UNKNOWN
    garbled = _efi(tmp_path / "b", b"\x06\0\0\0\x07")  # not a boolean: the variable is not trusted
    assert detect(garbled, mokutil=_mokutil(tmp_path, "SecureBoot disabled")) is SecureBootState.DISABLED
    assert detect(garbled, mokutil=NO_MOKUTIL) is SecureBootState.UNKNOWN


def test_recorded_in_the_facts() -> None:
    facts = detect_facts()
    assert facts.variables()["SECURE_BOOT_STATE"] == facts.secure_boot.value
    assert SecureBootState.parse("enabled") is SecureBootState.ENABLED
    assert SecureBootState.parse("") is SecureBootState.UNKNOWN  # a manifest from before this fact
