"""OCI references, the default tag and docker's credentials."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from rearbuild.errors import UserError
from rearbuild.output.stores.oci import OciStore, _docker_auth, default_tag, split_reference


def test_references() -> None:
    assert split_reference("reg:5000", "/rescue/web01:v1", "u") == ("reg:5000", "rescue/web01", "v1")
    assert split_reference("reg", "/rescue/web01", "u") == ("reg", "rescue/web01", "")
    with pytest.raises(UserError, match="not an OCI reference"):
        split_reference("reg", "/Rescue", "u")
    with pytest.raises(UserError, match="not a valid tag"):
        split_reference("reg", "/rescue:-bad", "u")


def test_default_tag_is_host_and_epoch() -> None:
    assert default_tag("web01.example", 1700000000) == "web01.example-1700000000"
    assert default_tag("we b/01", 0) == "we-b-01-0"


def test_loopback_registries_are_plain_http() -> None:
    assert OciStore("127.0.0.1:5000", "r", "t")._base.startswith("http://")
    assert OciStore("registry.example", "r", "t")._base.startswith("https://")


def test_credentials_come_from_docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert _docker_auth("reg.example") == ""
    auth = base64.b64encode(b"u:p").decode()
    auths = {"https://reg.example": {"auth": auth}, "other": {"username": "a", "password": "b"}}
    (tmp_path / "config.json").write_text(json.dumps({"auths": auths}))
    assert _docker_auth("reg.example") == auth
    assert base64.b64decode(_docker_auth("other")) == b"a:b"
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(UserError, match="cannot be read"):
        _docker_auth("reg.example")
