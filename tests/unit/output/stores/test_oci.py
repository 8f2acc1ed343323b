"""OCI references, the default tag and docker's credentials."""

from __future__ import annotations

import base64
import http.server
import json
import threading
from pathlib import Path
from typing import ClassVar

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


class _TokenRegistry(http.server.BaseHTTPRequestHandler):
    """A scripted registry with a token service (distribution's token auth): SIMULATED, no real token server runs
    here. /token wants Basic u:p and returns a token; /v2/ wants that token."""

    seen: ClassVar[list[tuple[str, str]]] = []

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization", "")
        self.seen.append((self.path, auth))
        if self.path.startswith("/token"):
            ok = auth == "Basic " + base64.b64encode(b"u:p").decode()
            self._send(200 if ok else 401, b'{"token": "tok123"}' if ok else b"")
        elif auth != "Bearer tok123":
            port = self.server.server_address[1]
            self._send(401, b"", {"WWW-Authenticate": f'Bearer realm="http://127.0.0.1:{port}/token",service="reg"'})
        else:
            self._send(404, b"")  # no such manifest: the tag is free

    def _send(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_bearer_challenge_is_answered_with_a_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TokenRegistry)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    registry = f"127.0.0.1:{httpd.server_address[1]}"
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    auth = base64.b64encode(b"u:p").decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {registry: {"auth": auth}}}))
    _TokenRegistry.seen = []
    try:
        assert OciStore(registry, "rescue/web01", "v1").exists("rearbuild-metadata.json", "0" * 64) is False
    finally:
        httpd.shutdown()
    paths = [p for p, _ in _TokenRegistry.seen]
    assert paths[0] == "/v2/rescue/web01/manifests/v1"
    assert paths[1].startswith("/token?") and "scope=repository%3Arescue%2Fweb01%3Apull%2Cpush" in paths[1]
    assert _TokenRegistry.seen[2] == ("/v2/rescue/web01/manifests/v1", "Bearer tok123")
