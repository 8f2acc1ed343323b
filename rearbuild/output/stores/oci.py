"""OCI registry store (OUTPUT_URL=oci://REGISTRY/REPO[:TAG]): the set is one OCI artifact, spoken to through the
registry HTTP API (OCI distribution-spec v1.0: monolithic blob upload, manifest PUT), with rearbuild's media types:

    manifest  application/vnd.oci.image.manifest.v1+json, artifactType MEDIA_SET
    config    the metadata document, MEDIA_METADATA
    layers    one per result file, MEDIA_FILE, named by the annotation org.opencontainers.image.title

Blobs go first, the manifest last: the tag names a complete set or nothing. A blob the registry has (HEAD) is not
sent again, and a manifest whose config is the same metadata document is not put again. The default tag is
`<host>-<SOURCE_DATE_EPOCH>` (default_tag): one tag per host and build date, so a rebuild of the same inputs
lands on the same tag and an older build keeps its own.

Plain HTTP is used for a loopback registry (127.0.0.0/8, ::1, localhost), as Docker does; HTTPS otherwise.
Credentials: `docker login`'s config.json ($DOCKER_CONFIG/config.json or ~/.docker/config.json, "auths" entries),
sent as Basic, or exchanged for a bearer token when the registry asks for one (RFC 6750, the token flow of the
distribution spec). Credential helpers (credsStore, credHelpers) are not read."""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import re
import time
import urllib.parse
from pathlib import Path
from typing import Any

from rearbuild.checksum import sha256_file
from rearbuild.errors import UserError
from rearbuild.output.stores.metadata import NAME
from rearbuild.output.stores.transfer import ATTEMPTS, FIRST_PAUSE, NotFound, Redirect, Refused, Response, request

MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_SET = "application/vnd.rearbuild.set.v1"
MEDIA_METADATA = "application/vnd.rearbuild.metadata.v1+json"
MEDIA_FILE = "application/vnd.rearbuild.file.v1"
TITLE = "org.opencontainers.image.title"

# distribution-spec: a tag is [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")


def default_tag(host: str, epoch: int) -> str:
    clean = re.sub(r"[^A-Za-z0-9._-]", "-", host).lstrip(".-") or "host"
    return f"{clean[:100]}-{epoch}"


def split_reference(netloc: str, path: str, url: str) -> tuple[str, str, str]:
    """(registry, repository, tag) of oci://REGISTRY/REPO[:TAG]; tag "" when none is written."""
    repo, _, tag = path.strip("/").rpartition(":") if ":" in path.rsplit("/", 1)[-1] else (path.strip("/"), "", "")
    if not netloc or not re.fullmatch(r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*", repo):
        raise UserError(f"{url!r} is not an OCI reference",
                        hint="write oci://REGISTRY/REPOSITORY[:TAG], the repository in lower case, "
                             "e.g. oci://registry.example.com/rescue/web01")  # fmt: skip
    if tag and not _TAG.fullmatch(tag):
        raise UserError(f"{url!r}: {tag!r} is not a valid tag", hint="a tag is letters, digits, . _ - (max 128)")
    return netloc, repo, tag


def _loopback(registry: str) -> bool:
    host = urllib.parse.urlsplit("//" + registry).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _docker_auth(registry: str) -> str:
    """Basic credentials for registry from docker's config.json; "" without an entry."""
    path = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "config.json"
    try:
        auths = json.loads(path.read_text()).get("auths", {})
    except FileNotFoundError:
        return ""
    except (OSError, ValueError, AttributeError):
        raise UserError(f"{path} cannot be read as JSON", hint="fix it, or run `docker login` again") from None
    for key, entry in auths.items():
        if urllib.parse.urlsplit(key if "//" in key else "//" + key).netloc == registry and isinstance(entry, dict):
            if entry.get("auth"):
                return str(entry["auth"])
            if entry.get("username"):
                return base64.b64encode(f"{entry['username']}:{entry.get('password', '')}".encode()).decode()
    return ""


class OciStore:
    sidecars = False

    def __init__(self, registry: str, repository: str, tag: str) -> None:
        self.registry, self.repository, self.tag = registry, repository, tag
        self.location = f"oci://{registry}/{repository}:{tag}"
        self._base = f"{'http' if _loopback(registry) else 'https'}://{registry}/v2/{repository}"
        self._basic = _docker_auth(registry)
        self._bearer = ""
        self._layers: list[dict[str, Any]] = []
        self._manifest: dict[str, Any] | None = None

    # ---- HTTP with the registry's authentication ----
    def _call(self, method: str, url: str, *, body: Path | bytes | None = None, target: Path | None = None,
              headers: dict[str, str] | None = None, attempts: int = ATTEMPTS) -> Response:  # fmt: skip
        for _ in range(2):  # the second time with a bearer token, when the registry asked for one
            auth = f"Bearer {self._bearer}" if self._bearer else f"Basic {self._basic}" if self._basic else ""
            try:
                sent = {**(headers or {}), **({"Authorization": auth} if auth else {})}
                return request(method, url, headers=sent, body=body, target=target,
                               what=f"{self.location} ({method})", attempts=attempts)  # fmt: skip
            except Refused as exc:
                if exc.status == 401 and not self._bearer and exc.challenge.lower().startswith("bearer "):
                    self._bearer = self._token(exc.challenge)
                    continue
                if exc.status in (401, 403):
                    raise UserError(f"{self.location}: the registry refused the credentials (HTTP {exc.status})",
                                    hint=f"run `docker login {self.registry}` (rearbuild reads "
                                         "$DOCKER_CONFIG/config.json or ~/.docker/config.json)") from None  # fmt: skip
                raise UserError(f"{self.location}: the registry answered HTTP {exc.status} to {method}",
                                hint="check the registry address and the repository name") from None  # fmt: skip
        raise UserError(f"{self.location}: the registry refused the bearer token",
                        hint=f"run `docker login {self.registry}` again")  # fmt: skip

    def _token(self, challenge: str) -> str:
        fields = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        realm = fields.pop("realm", "")
        if not realm:
            raise UserError(f"{self.location}: the registry's token challenge names no realm")
        query = urllib.parse.urlencode(
            {"service": fields.get("service", ""), "scope": f"repository:{self.repository}:pull,push"}
        )
        headers = {"Authorization": f"Basic {self._basic}"} if self._basic else {}
        try:
            answer = request("GET", f"{realm}?{query}", headers=headers, what=f"the token service of {self.registry}")
        except Refused:
            raise UserError(f"{self.location}: the token service refused the credentials",
                            hint=f"run `docker login {self.registry}`") from None  # fmt: skip
        data = json.loads(answer.body)
        return str(data.get("token") or data.get("access_token") or "")

    # ---- the artifact ----
    def _current(self) -> dict[str, Any] | None:
        if self._manifest is None:
            try:
                answer = self._call("GET", f"{self._base}/manifests/{self.tag}", headers={"Accept": MEDIA_MANIFEST})
            except NotFound:
                return None
            self._manifest = json.loads(answer.body)
        return self._manifest

    def _blob_exists(self, digest: str) -> bool:
        try:
            self._call("HEAD", f"{self._base}/blobs/sha256:{digest}")
        except NotFound:
            return False
        return True

    def _upload(self, source: Path | bytes, digest: str) -> bool:
        if self._blob_exists(digest):
            return False
        pause = FIRST_PAUSE
        for attempt in range(1, ATTEMPTS + 1):
            # an upload session a dropped connection broke cannot be resumed: every attempt opens a new one
            start = self._call("POST", f"{self._base}/blobs/uploads/")
            location = urllib.parse.urljoin(self._base, start.headers["location"])
            joiner = "&" if "?" in location else "?"
            try:
                self._call("PUT", f"{location}{joiner}digest=sha256%3A{digest}", body=source, attempts=1,
                           headers={"Content-Type": "application/octet-stream"})  # fmt: skip
                return True
            except (UserError, NotFound):
                if attempt == ATTEMPTS:
                    raise
                time.sleep(pause)
                pause *= 2
        return True  # pragma: no cover

    def exists(self, name: str, sha256: str) -> bool:
        current = self._current()
        if current is None:
            return False
        if name == NAME:
            return bool(current.get("config", {}).get("digest") == f"sha256:{sha256}")
        return any(layer.get("annotations", {}).get(TITLE) == name and layer.get("digest") == f"sha256:{sha256}"
                   for layer in current.get("layers", []))  # fmt: skip

    def put(self, name: str, source: Path | bytes, sha256: str) -> bool:
        size = source.stat().st_size if isinstance(source, Path) else len(source)
        sent = self._upload(source, sha256)
        if name != NAME:
            self._layers.append({"mediaType": MEDIA_FILE, "digest": f"sha256:{sha256}", "size": size,
                                 "annotations": {TITLE: name}})  # fmt: skip
            return sent
        manifest = {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "artifactType": MEDIA_SET,
            "config": {"mediaType": MEDIA_METADATA, "digest": f"sha256:{sha256}", "size": size},
            "layers": self._layers,
        }
        body = json.dumps(manifest, sort_keys=True).encode()
        self._call("PUT", f"{self._base}/manifests/{self.tag}", body=body, headers={"Content-Type": MEDIA_MANIFEST})
        self._manifest = manifest
        return True

    def get(self, name: str, target: Path) -> None:
        current = self._current()
        if current is None:
            raise NotFound(self.location)
        if name == NAME:
            if current.get("config", {}).get("mediaType") != MEDIA_METADATA:
                raise UserError(f"{self.location} is not a rearbuild set (its config is not {MEDIA_METADATA})",
                                hint="fetch a reference `rearbuild publish` printed")  # fmt: skip
            digest = str(current["config"]["digest"])
        else:
            layer = next((x for x in current.get("layers", []) if x.get("annotations", {}).get(TITLE) == name), None)
            if layer is None:
                raise NotFound(name)
            digest = str(layer["digest"])
        try:
            self._call("GET", f"{self._base}/blobs/{digest}", target=target)
        except Redirect as moved:  # a blob on another server: its URL is signed, our credentials stay here
            request("GET", moved.location, target=target, what=f"{self.location} {name}")
        if f"sha256:{sha256_file(target)}" != digest:
            raise UserError(f"{self.location}: {name} does not match its digest {digest}",
                            hint="the registry's copy is damaged: publish again")  # fmt: skip

