"""HTTP requests of the stores: transient failures retried a bounded number of times, 4xx never."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from rearbuild.errors import UserError
from rearbuild.output.stores.transfer import ATTEMPTS, NotFound, Refused, request


class _Scripted(http.server.BaseHTTPRequestHandler):
    answers: ClassVar[list[int]] = []
    seen: ClassVar[list[str]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.seen.append(f"{self.command} {len(body)}")
        code = self.answers.pop(0) if self.answers else 200
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_PUT = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    _Scripted.answers, _Scripted.seen = [], []
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/x"
    httpd.shutdown()


def test_5xx_is_retried_with_growing_pauses_and_the_body_sent_again(server: str, tmp_path: Path) -> None:
    _Scripted.answers = [503, 502]
    body = tmp_path / "f"
    body.write_bytes(b"12345")
    pauses: list[float] = []
    answer = request("PUT", server, body=body, what="x", sleep=pauses.append)
    assert answer.status == 200 and answer.body == b"ok"
    assert _Scripted.seen == ["PUT 5"] * 3 and pauses == [0.5, 1.0]


def test_4xx_is_not_retried(server: str) -> None:
    _Scripted.answers = [403]
    with pytest.raises(Refused) as err:
        request("GET", server, what="x", sleep=lambda _: None)
    assert err.value.status == 403 and _Scripted.seen == ["GET 0"]
    _Scripted.answers = [404]
    with pytest.raises(NotFound):
        request("GET", server, what="x", sleep=lambda _: None)


def test_a_server_that_stays_down_is_reported_after_bounded_attempts(server: str) -> None:
    _Scripted.answers = [500] * 10
    pauses: list[float] = []
    with pytest.raises(UserError) as err:
        request("GET", server, headers={"Authorization": "Basic c2VjcmV0"}, what="the object", sleep=pauses.append)
    assert len(_Scripted.seen) == ATTEMPTS and len(pauses) == ATTEMPTS - 1
    assert "HTTP 500" in err.value.message and "c2VjcmV0" not in err.value.message


def test_a_refused_connection_is_retried(tmp_path: Path) -> None:
    pauses: list[float] = []
    with pytest.raises(UserError, match="failed 4 time"):
        request("GET", "http://127.0.0.1:9/x", what="x", sleep=pauses.append)  # port 9 (discard): nobody listens
    assert len(pauses) == ATTEMPTS - 1
