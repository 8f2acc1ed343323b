"""OUTPUT=UKI (or EFI_STUB=y): before anything is built, pefile and systemd's EFI stub must be there (the error names
systemd-boot-efi), and a configured signing key and certificate readable, with sbsign installed."""

from __future__ import annotations

import shutil

from rearbuild.context import Context
from rearbuild.errors import UserError
from rearbuild.output.signing import SBSIGN_HINT, SigningKey
from rearbuild.output.uki import check_prerequisites


def main(ctx: Context) -> None:
    check_prerequisites(ctx.text("UKI_STUB"))
    key = SigningKey.from_settings(ctx.text("UKI_SIGN_KEY"), ctx.text("UKI_SIGN_CERT"))
    if key is None:
        return
    key.check()
    if shutil.which("sbsign") is None:
        raise UserError("UKI_SIGN_KEY is set but sbsign is not installed", hint=SBSIGN_HINT)
