"""Yes, no and "let rearbuild decide": one reading of ReaR's words for every variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from rearbuild.config.model import Config, truth
from rearbuild.errors import UserError


def _config(path: Path, **values: str) -> Config:
    path.write_text("".join(f"{k}={v!r}\n" for k, v in values.items()))
    return Config.of(values, {k: str(path) for k in values})


@pytest.mark.parametrize("word", ["y", "Yes", "TRUE", "1", "on", "ja", "j", "si", "oui", "t", " yes "])
def test_yes_words(word: str) -> None:
    assert truth(word) is True


@pytest.mark.parametrize("word", ["n", "No", "false", "0", "off", "nein", "f"])
def test_no_words(word: str) -> None:
    assert truth(word) is False


@pytest.mark.parametrize("word", ["", "  ", "maybe", "/usr/share/shim.efi", "errors"])
def test_anything_else_is_neither(word: str) -> None:
    assert truth(word) is None


def test_flag_and_tristate_agree_on_the_words(tmp_path: Path) -> None:
    config = _config(tmp_path / "local.conf", A="on", B="off", C="")
    assert (config.flag("A"), config.flag("B"), config.flag("C")) == (True, False, False)
    assert (config.tristate("A"), config.tristate("B"), config.tristate("C")) == (True, False, None)


def test_other_words_name_file_and_line(tmp_path: Path) -> None:
    conf = tmp_path / "local.conf"
    config = _config(conf, OTHER="x", MIGRATION_MODE="sometimes")
    with pytest.raises(UserError, match=f"{conf}:2: MIGRATION_MODE='sometimes' is neither yes nor no"):
        config.tristate("MIGRATION_MODE")
    with pytest.raises(UserError, match="neither yes nor no"):
        config.flag("MIGRATION_MODE")
