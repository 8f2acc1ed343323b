"""UKI_SIGN_KEY / UKI_SIGN_CERT as settings: both or neither, readable files, errors naming the setting. Signing with
sbsign itself is checked in tests/integration/output/test_uki_tools.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from rearbuild.errors import UserError
from rearbuild.output.signing import SigningKey, signing_keys


def test_no_key_means_no_signing() -> None:
    assert SigningKey.from_settings("", " ") is None
    assert signing_keys("", " ") == ()


@pytest.mark.parametrize(("key", "cert", "missing"), [("/k.pem", "", "UKI_SIGN_CERT"), ("", "/c.pem", "UKI_SIGN_KEY")])
def test_one_without_the_other_is_an_error_naming_it(key: str, cert: str, missing: str) -> None:
    with pytest.raises(UserError) as caught:
        SigningKey.from_settings(key, cert)
    assert caught.value.message.startswith(f"{missing} is empty")


def test_a_missing_key_is_a_clear_error(tmp_path: Path) -> None:
    cert = tmp_path / "c.pem"
    cert.write_text("cert")
    key = SigningKey.from_settings(str(tmp_path / "nokey.pem"), str(cert))
    assert key is not None
    with pytest.raises(UserError) as caught:
        key.check()
    assert caught.value.message == f"UKI_SIGN_KEY={tmp_path}/nokey.pem: cannot read it: No such file or directory"
    directory = SigningKey(tmp_path, cert)
    with pytest.raises(UserError, match=r"UKI_SIGN_KEY=.* is not a file|Is a directory"):
        directory.check()
