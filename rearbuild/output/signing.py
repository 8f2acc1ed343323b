"""Signing EFI binaries for Secure Boot with sbsign (sbsigntool), the tool ukify and dracut use
(peer-techniques.md §B2): rearbuild never signs in Python and never reads the private key itself.

The key stays where the user keeps it: sbsign gets its path, so neither its bytes nor anything derived from
them but the signature reach the image, a bundle, the argv or the log (the path does, as any path).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rearbuild.errors import UserError
from rearbuild.run import CommandError, run

SBSIGN_HINT = "apt-get install sbsigntool"


def signing_keys(*settings: str) -> tuple[Path, ...]:
    """The private keys named by these settings (UKI_SIGN_KEY, ...): files the image and a bundle must never hold,
    even when they live under the configuration directory ReaR copies into the image."""
    return tuple(Path(s.strip()) for s in settings if s.strip())


@dataclass(frozen=True)
class SigningKey:
    """A PEM private key and its X.509 certificate (the one enrolled in the firmware's db)."""

    key: Path
    cert: Path
    key_setting: str = "UKI_SIGN_KEY"
    cert_setting: str = "UKI_SIGN_CERT"

    @classmethod
    def from_settings(
        cls, key: str, cert: str, *, key_setting: str = "UKI_SIGN_KEY", cert_setting: str = "UKI_SIGN_CERT"
    ) -> SigningKey | None:
        """None when neither is set (nothing is signed); both or neither, else a UserError naming the other."""
        key, cert = key.strip(), cert.strip()
        if not key and not cert:
            return None
        if not key or not cert:
            missing = key_setting if not key else cert_setting
            raise UserError(
                f"{missing} is empty: signing needs both {key_setting} and {cert_setting}",
                hint=f"set {missing}, or unset both to leave the image unsigned",
            )
        return cls(Path(key), Path(cert), key_setting, cert_setting)

    def check(self) -> None:
        """Both files readable now (prep), so nothing fails after the image is built; opened, not read."""
        for path, setting in ((self.key, self.key_setting), (self.cert, self.cert_setting)):
            try:
                with open(path, "rb"):
                    pass
            except OSError as exc:
                raise UserError(
                    f"{setting}={path}: cannot read it: {exc.strerror}",
                    hint=f"point {setting} at a readable PEM file (the user building the image must read it)",
                ) from exc
            if not os.path.isfile(path):
                raise UserError(f"{setting}={path} is not a file", hint=f"point {setting} at a PEM file")

    def sign(self, unsigned: Path, out: Path) -> None:
        """Write `unsigned` signed to `out` (sbsign --key --cert --output)."""
        self.check()
        try:
            run(
                ["sbsign", "--key", self.key, "--cert", self.cert, "--output", out, unsigned],
                hint=SBSIGN_HINT,
            )
        except CommandError as exc:
            if exc.result is None:  # sbsign itself is missing
                raise
            raise UserError(
                f"sbsign could not sign {unsigned.name} with {self.key_setting}={self.key} and "
                f"{self.cert_setting}={self.cert}: {exc.message}",
                hint=f"{self.key_setting} must be an unencrypted PEM private key and {self.cert_setting} its PEM "
                "certificate (openssl req -new -x509 -newkey rsa:2048 -nodes ...)",
            ) from exc
