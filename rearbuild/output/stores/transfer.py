"""HTTP requests for the stores that speak HTTP themselves (WebDAV, the OCI registry API), retried on transient
failure: a refused or dropped connection, a timeout, or a 5xx answer is tried again, at most ATTEMPTS times with
growing pauses; a 4xx answer is the server's decision and is not. A request body is a file, reopened for every
attempt. No header is ever logged or put in an error: Authorization carries the credentials."""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path

from rearbuild.errors import UserError

log = logging.getLogger("rearbuild.publish")

# 4 attempts, pauses of 0.5, 1 and 2 s: a restarting server or a dropped connection gets 3.5 s, a dead one is
# reported within seconds (the same order as botocore's "standard" retry mode, which the S3 store uses).
ATTEMPTS = 4
FIRST_PAUSE = 0.5
# Seconds without a byte before a connection counts as dropped.
TIMEOUT = 60


class NotFound(Exception):
    """404: the object is not there."""


class Redirect(Exception):
    """3xx: the object is elsewhere (a registry's blob on a CDN); followed without the credentials."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


class Refused(Exception):
    """A 4xx answer other than 404."""

    def __init__(self, status: int, reason: str, challenge: str = "") -> None:
        super().__init__(f"HTTP {status} {reason}")
        self.status = status
        self.challenge = challenge  # WWW-Authenticate of a 401


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is followed by the caller, which decides whether credentials go along."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | Path | None = None,
    target: Path | None = None,
    what: str,
    attempts: int = ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> Response:
    """One request with retries; target: stream the answer's body into this file instead of memory.
    NotFound for 404, Refused for another 4xx, UserError when every attempt failed. what: the object, for
    messages (never the headers)."""
    pause = FIRST_PAUSE
    last = ""
    for attempt in range(1, attempts + 1):
        try:
            return _once(method, url, headers or {}, body, target)
        except urllib.error.HTTPError as exc:
            if 300 <= exc.code < 400 and exc.headers.get("Location"):
                raise Redirect(urllib.parse.urljoin(url, exc.headers["Location"])) from None
            if exc.code == 404:
                raise NotFound(url) from None
            if exc.code < 500:
                raise Refused(exc.code, str(exc.reason), exc.headers.get("WWW-Authenticate", "")) from None
            last = f"HTTP {exc.code} {exc.reason}"
        except (urllib.error.URLError, OSError, HTTPException) as exc:
            reason = getattr(exc, "reason", None) or exc
            last = f"{type(reason).__name__}: {reason}" if str(reason) else type(reason).__name__
        if attempt < attempts:
            log.warning("%s %s failed (%s); attempt %d of %d in %.1f s", method, what, last, attempt + 1, attempts,
                        pause)  # fmt: skip
            sleep(pause)
            pause *= 2
    raise UserError(f"{method} {what} failed {attempts} time(s), last: {last}",
                    hint="check that the server is up and reachable, then run the same command again")  # fmt: skip


def _once(method: str, url: str, headers: Mapping[str, str], body: bytes | Path | None,
          target: Path | None) -> Response:  # fmt: skip
    all_headers = dict(headers)
    if isinstance(body, Path):
        all_headers["Content-Length"] = str(body.stat().st_size)
        with body.open("rb") as stream:
            req = urllib.request.Request(url, data=stream, method=method, headers=all_headers)
            return _read(_opener.open(req, timeout=TIMEOUT), target)
    req = urllib.request.Request(url, data=body, method=method, headers=all_headers)
    return _read(_opener.open(req, timeout=TIMEOUT), target)


def _read(answer: urllib.response.addinfourl, target: Path | None) -> Response:
    with answer:
        headers = {k.lower(): v for k, v in answer.headers.items()}
        if target is None:
            return Response(int(answer.status or 0), headers, answer.read())
        expected = int(headers.get("content-length", "-1"))
        written = 0
        with target.open("wb") as out:
            while chunk := answer.read(1 << 20):
                out.write(chunk)
                written += len(chunk)
        if 0 <= expected != written:
            raise OSError(f"connection dropped after {written} of {expected} bytes")
        return Response(int(answer.status or 0), headers, b"")
