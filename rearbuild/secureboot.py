"""Whether this machine was booted with UEFI Secure Boot on.

Read from the firmware's `SecureBoot` variable (EFI global variable GUID 8be4df61-93ca-11d2-aa0d-00e098032b8c,
UEFI 2.10 §3.3 "Globally Defined Variables": 1 = the platform boots in Secure Boot mode, 0 = it does not). Under
efivarfs a variable's file holds its 4-byte attributes, then the data (Linux
Documentation/filesystems/efivarfs.rst), so the state is byte 4. Where efivarfs is not mounted, `mokutil
--sb-state` (which reads the same variable through its own path) is asked. Used for the facts (manifest, dump),
for choosing the signed boot chain of the rescue media, and in recovery for the restored boot loader.
"""

from __future__ import annotations

import enum
import shutil
from pathlib import Path

from rearbuild.run import run

EFI_DIR = Path("/sys/firmware/efi")
SECURE_BOOT_VARIABLE = "SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
_ATTRIBUTE_BYTES = 4  # efivarfs: a little-endian u32 of EFI_VARIABLE_* attributes before the data


class SecureBootState(enum.Enum):
    ENABLED = "enabled"
    DISABLED = "disabled"
    BIOS = "bios"  # not started by UEFI firmware: no Secure Boot at all
    UNKNOWN = "unknown"  # UEFI, but neither efivarfs nor mokutil could tell

    @property
    def enabled(self) -> bool:
        return self is SecureBootState.ENABLED

    @classmethod
    def parse(cls, value: str) -> SecureBootState:
        """A recorded state (the manifest's SECURE_BOOT_STATE fact); a manifest without it: UNKNOWN."""
        try:
            return cls(value)
        except ValueError:
            return cls.UNKNOWN


def _from_variable(efivars: Path) -> SecureBootState | None:
    try:
        data = (efivars / SECURE_BOOT_VARIABLE).read_bytes()
    except FileNotFoundError:
        # efivarfs mounted (it lists other variables) but no SecureBoot variable: firmware without Secure Boot
        try:
            mounted = any(efivars.iterdir())
        except OSError:
            return None
        return SecureBootState.DISABLED if mounted else None
    except OSError:
        return None
    if len(data) != _ATTRIBUTE_BYTES + 1 or data[_ATTRIBUTE_BYTES] not in (0, 1):
        return None  # not the variable the specification describes: let mokutil decide
    return SecureBootState.ENABLED if data[_ATTRIBUTE_BYTES] == 1 else SecureBootState.DISABLED


def _from_mokutil(mokutil: str) -> SecureBootState:
    if shutil.which(mokutil) is None:
        return SecureBootState.UNKNOWN
    # mokutil prints "SecureBoot enabled" / "SecureBoot disabled" (mokutil.c, print_sb_state)
    result = run([mokutil, "--sb-state"], check=False, timeout=30)
    words = (result.out + result.err).lower()
    if "secureboot enabled" in words:
        return SecureBootState.ENABLED
    if "secureboot disabled" in words:
        return SecureBootState.DISABLED
    return SecureBootState.UNKNOWN


def detect(efi_dir: Path = EFI_DIR, *, mokutil: str = "mokutil") -> SecureBootState:
    """The Secure Boot state of the running machine; efi_dir is /sys/firmware/efi (a parameter for tests)."""
    if not efi_dir.is_dir():
        return SecureBootState.BIOS
    state = _from_variable(efi_dir / "efivars")
    return state if state is not None else _from_mokutil(mokutil)
