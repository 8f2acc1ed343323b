"""The table of every ReaR 2.7 variable and its state (rearbuild.config.variables), as users meet it."""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import RearEnv

Run = Callable[..., tuple[int, str, str]]


def test_unsupported_rear_setting_is_an_error_with_file_and_line(rear_env: RearEnv, rearbuild: Run) -> None:
    local = rear_env.write("etc/local.conf", "OUTPUT=ISO\n\nISO_MAX_SIZE=4400\n")
    status, _, err = rearbuild("dump")
    assert status == 1
    assert f"{local}:3: ISO_MAX_SIZE" in err


def test_efi_stub_yes_is_output_uki(rear_env: RearEnv) -> None:
    from tests.conftest import shipped_config

    assert shipped_config(rear_env, "EFI_STUB=yes\n", "mkrescue").text("OUTPUT") == "UKI"
    config = shipped_config(rear_env, "OUTPUT=ISO\nEFI_STUB=y\n", "mkrescue")
    assert config.text("OUTPUT") == "UKI" and config.origin("OUTPUT").endswith("local.conf")
    assert shipped_config(rear_env, "EFI_STUB=no\n", "mkrescue").text("OUTPUT") == "ISO"
