"""Artifact stores a set of results is published to and fetched from (OUTPUT_URL oci://, s3://, http(s)://;
`rearbuild publish`, `rearbuild fetch`). One module per store behind one small interface, `Store`:

    exists(name, sha256)  an object of that name with that content is there
    put(name, source, sha256) -> bool   whole or nothing under name; False: it was there already, nothing sent
    get(name, target)     the object's bytes into the local file target; NotFound when it is not there

A set is the result files, then (stores with `sidecars`) a `<file>.sha256` beside each, and last the metadata
document (rearbuild.output.stores.metadata), which commits it: fetch refuses a location without one, so a
publish that died half-way is never taken for a set. The OCI store keeps the digests in its manifest instead of
side files, and its manifest, put with the metadata, is the commit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from rearbuild.checksum import format_line, parse_line, sha256_bytes, sha256_file
from rearbuild.errors import UserError
from rearbuild.log import notice
from rearbuild.output.stores.metadata import NAME, Metadata
from rearbuild.output.stores.transfer import NotFound
from rearbuild.url import Scheme, Url


class Store(Protocol):
    location: str  # the set's address, for messages and for `rearbuild fetch`
    sidecars: bool  # a <file>.sha256 object beside each file

    def exists(self, name: str, sha256: str) -> bool: ...

    def put(self, name: str, source: Path | bytes, sha256: str) -> bool: ...

    def get(self, name: str, target: Path) -> None: ...


def open_store(url: Url, *, prefix: str = "", s3_endpoint: str = "", tag: str = "") -> Store:
    """The store behind a parsed OUTPUT_URL-like URL. prefix: a subdirectory appended to the path (OUTPUT_PREFIX);
    tag: the OCI tag when the URL has none ("" then refuses, as fetch must name one)."""
    path = "/".join(p for p in (str(url.path).strip("/"), prefix.strip("/")) if p)
    if url.scheme is Scheme.S3:
        from rearbuild.output.stores.s3 import S3Store

        return S3Store(url.host, path, s3_endpoint)
    if url.scheme in (Scheme.HTTP, Scheme.HTTPS):
        from rearbuild.output.stores.webdav import WebDavStore

        return WebDavStore(f"{url.scheme.word}://{url.host}/{path}")
    if url.scheme is Scheme.OCI:
        from rearbuild.output.stores.oci import OciStore, split_reference

        registry, repository, written = split_reference(url.host, str(url.path), url.text)
        if not (written or tag):
            raise UserError(f"{url.text!r} names no tag",
                            hint="write oci://REGISTRY/REPOSITORY:TAG (publish prints it)")  # fmt: skip
        return OciStore(registry, repository, written or tag)
    raise UserError(f"{url.text!r} is not an artifact store", hint="use s3://, http(s):// or oci://")


def publish_set(store: Store, files: dict[str, Path], metadata: Metadata) -> int:
    """Upload what the store lacks, metadata last; the number of objects sent (0: the set was there)."""
    document = metadata.dumps()
    digest = sha256_bytes(document)
    if store.exists(NAME, digest):
        notice("published already, nothing sent: %s", store.location)
        return 0
    sent = 0
    for entry in metadata.files:
        sent += store.put(entry.name, files[entry.name], entry.sha256)
        if store.sidecars:
            line = format_line(entry.sha256, entry.name).encode()
            sent += store.put(entry.name + ".sha256", line, sha256_bytes(line))
    sent += store.put(NAME, document, digest)
    notice("published %d file(s) to %s (%d object(s) sent, the others were there)", len(metadata.files),
           store.location, sent)  # fmt: skip
    return sent


def fetch_set(store: Store, directory: Path) -> Metadata:
    """Download a published set into directory and verify every file against the metadata (and its .sha256);
    a file that does not match is not kept and the run fails, naming it."""
    directory.mkdir(parents=True, exist_ok=True)
    part = directory / (NAME + ".part")
    try:
        store.get(NAME, part)
    except NotFound:
        raise UserError(f"no published set at {store.location}: its {NAME} is missing",
                        hint="check the URL (publish prints it); a publish that failed half-way has none: "
                             "publish again") from None  # fmt: skip
    metadata = Metadata.loads(part.read_bytes(), f"{store.location} {NAME}")
    for entry in metadata.files:
        target = directory / entry.name
        tmp = directory / (entry.name + ".part")
        try:
            store.get(entry.name, tmp)
            recorded = entry.sha256
            if store.sidecars:
                side = directory / (entry.name + ".sha256.part")
                store.get(entry.name + ".sha256", side)
                recorded = parse_line(side.read_text(errors="replace"), target)
                side.unlink()
        except NotFound:
            tmp.unlink(missing_ok=True)
            raise UserError(f"{store.location}: {entry.name} is listed in {NAME} but missing",
                            hint="publish the set again") from None  # fmt: skip
        actual = sha256_file(tmp)
        if actual != entry.sha256 or recorded != entry.sha256 or tmp.stat().st_size != entry.size:
            tmp.unlink()
            raise UserError(f"{store.location}: {entry.name} does not match: sha256 {actual}, "
                            f"{NAME} says {entry.sha256}, {entry.name}.sha256 says {recorded}",
                            hint="the stored copy is damaged or was changed: publish it again")  # fmt: skip
        tmp.replace(target)
        (directory / (entry.name + ".sha256")).write_text(format_line(entry.sha256, entry.name))
        notice("fetched %s (sha256 %s)", target, entry.sha256)
    part.replace(directory / NAME)
    return metadata
