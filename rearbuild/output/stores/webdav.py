"""HTTP(S) PUT / WebDAV store (OUTPUT_URL=https://host/path/): each object is PUT under a temporary name
(`.<name>.<random>.part`) and then MOVEd onto its final name (RFC 4918 §9.9), so a reader never sees half an
object under the final name, however the upload ends; a server without MOVE refuses with 405 and the message says
so. Collections on the way are made with MKCOL (RFC 4918 §9.3). Whether an object is there already is read from
its `.sha256` side object; the metadata document goes last (see rearbuild.output.stores).

Credentials come from ~/.netrc (machine HOST login USER password SECRET), sent as HTTP Basic; never from the URL,
which is logged."""

from __future__ import annotations

import base64
import contextlib
import netrc
import os
import secrets
from pathlib import Path
from urllib.parse import quote, urlsplit

from rearbuild.checksum import parse_line, sha256_bytes
from rearbuild.errors import UserError
from rearbuild.output.stores.metadata import NAME
from rearbuild.output.stores.transfer import NotFound, Refused, Response, request


class WebDavStore:
    sidecars = True

    def __init__(self, base: str) -> None:
        """base: http(s)://host[:port]/path (the set's collection)."""
        self.location = base.rstrip("/") + "/"
        self._host = urlsplit(base).hostname or ""
        self._auth = _netrc_header(self._host)
        self._made = False

    def _url(self, name: str) -> str:
        return self.location + quote(name)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": self._auth} if self._auth else {}

    def _call(self, method: str, name: str, *, body: Path | bytes | None = None, target: Path | None = None,
              headers: dict[str, str] | None = None) -> Response:  # fmt: skip
        try:
            return request(method, self._url(name), headers={**self._headers(), **(headers or {})}, body=body,
                           target=target, what=self._url(name))  # fmt: skip
        except Refused as exc:
            raise _refusal(exc, method, self._url(name), self._host) from None

    def exists(self, name: str, sha256: str) -> bool:
        try:
            found = self._sidecar_digest(name)
        except NotFound:
            return False
        return found == sha256

    def _sidecar_digest(self, name: str) -> str:
        """The sha256 of what is stored under name: a file's from its side file; the metadata document and the
        side files themselves are small, so their bytes are hashed."""
        if name == NAME or name.endswith(".sha256"):
            return sha256_bytes(self._call("GET", name).body)
        return parse_line(self._call("GET", name + ".sha256").body.decode(errors="replace"), Path(name + ".sha256"))

    def put(self, name: str, source: Path | bytes, sha256: str) -> bool:
        if self.exists(name, sha256):
            return False
        self._collections()
        temporary = f".{name}.{secrets.token_hex(4)}.part"
        self._call("PUT", temporary, body=source, headers={"Content-Type": "application/octet-stream"})
        try:
            self._call("MOVE", temporary, headers={"Destination": self._url(name), "Overwrite": "T"})
        except BaseException:
            # the server that failed the MOVE may fail this too; the temporary name is never read
            with contextlib.suppress(NotFound, UserError):
                self._call("DELETE", temporary)
            raise
        return True

    def get(self, name: str, target: Path) -> None:
        self._call("GET", name, target=target)

    def _collections(self) -> None:
        """MKCOL every collection of the path once (405: it exists already)."""
        if self._made:
            return
        parts = urlsplit(self.location)
        path = ""
        for segment in [s for s in parts.path.split("/") if s]:
            path += "/" + segment
            try:
                request("MKCOL", f"{parts.scheme}://{parts.netloc}{path}/", headers=self._headers(),
                        what=f"{parts.scheme}://{parts.netloc}{path}/")  # fmt: skip
            except Refused as exc:
                if exc.status in (401, 403):
                    raise _refusal(exc, "MKCOL", path, self._host) from None
                # 405: exists already (RFC 4918 §9.3.1); 409 and others: the PUT that follows reports it
        self._made = True


def _netrc_header(host: str) -> str:
    """Basic credentials for host from $NETRC or ~/.netrc; "" without an entry."""
    path = Path(os.environ.get("NETRC") or Path.home() / ".netrc")
    if not path.exists():
        return ""
    try:
        entry = netrc.netrc(str(path)).authenticators(host)
    except (netrc.NetrcParseError, OSError) as exc:
        # the parser's message quotes the file's line, which may hold a password: say only where
        lineno = getattr(exc, "lineno", "?")
        raise UserError(f"{path} cannot be read (line {lineno})", hint="fix the netrc file: "
                        "machine HOST login USER password SECRET") from None  # fmt: skip
    if entry is None:
        return ""
    login, _account, password = entry
    return "Basic " + base64.b64encode(f"{login}:{password or ''}".encode()).decode()


def _refusal(exc: Refused, method: str, url: str, host: str) -> UserError:
    if exc.status in (401, 403):
        return UserError(f"{method} {url}: the server refused the credentials (HTTP {exc.status})",
                         hint=f"put the right login and password for {host} in ~/.netrc "
                              f"(machine {host} login USER password SECRET)")  # fmt: skip
    if exc.status == 405 and method == "MOVE":
        return UserError(f"{url}: the server does not allow MOVE (HTTP 405)",
                         hint="publishing needs a WebDAV server that allows PUT and MOVE (nginx: dav_methods "
                              "PUT DELETE MKCOL MOVE)")  # fmt: skip
    return UserError(f"{method} {url}: HTTP {exc.status}", hint="check the URL and the server's configuration")
