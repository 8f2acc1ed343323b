"""Publishing the results (ReaR: output/default/950_copy_result_files.sh): copy them with a sha256 file and the
build log to OUTPUT_URL/OUTPUT_PREFIX (an empty OUTPUT_URL takes BACKUP_URL when rearbuild can write its scheme
as OUTPUT_URL, file:// today, as in ReaR). Without either they stay where they were built, with the sha256.
An artifact store (s3://, http(s)://, oci://: rearbuild.output.stores) gets them with their sha256 and a metadata
document; they stay where they were built too. The list of results is recorded (record_latest) for
`rearbuild publish URL` without files."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from rearbuild.atomicfile import atomic_write
from rearbuild.checksum import sha256_file, write_side_file
from rearbuild.errors import InternalError, UserError
from rearbuild.log import copy_log, notice
from rearbuild.output.stores import open_store, publish_set
from rearbuild.output.stores.metadata import Provenance, describe
from rearbuild.output.stores.oci import default_tag
from rearbuild.url import Reach, Scheme, Url, Use

# Below VAR_DIR: the results of this host's last build, for `rearbuild publish URL` without files.
LATEST = "output/latest-results.json"


def output_location(output_url: str, backup_url: str) -> Url | None:
    """OUTPUT_URL parsed, or the BACKUP_URL it inherits; None: the results stay where they were built."""
    output_url = output_url.strip()
    backup_url = backup_url.strip()
    inherited = Scheme.of(backup_url)
    if not output_url and inherited is not None and inherited.implemented_for(Use.OUTPUT):
        # ReaR: an empty OUTPUT_URL inherits BACKUP_URL, so the ISO lands beside the backup
        output_url = backup_url
    if not output_url:
        return None
    url = Url.parse(output_url, Use.OUTPUT)
    # null: nowhere; usb://: the medium OUTPUT=USB already wrote (its own rear/<host>/<run>/ directories)
    return None if url.scheme.reach in (Reach.NOWHERE, Reach.DEVICE) else url


def destination(output_url: str, backup_url: str, prefix: str) -> Path | None:
    """The directory the results are copied to; None: they stay where they were built (no OUTPUT_URL, null, an
    artifact store)."""
    url = output_location(output_url, backup_url)
    if url is None or url.scheme.reach is Reach.REMOTE:
        return None
    return url.archive_dir(Path(url.path), prefix)


def store_url(text: str) -> Url:
    """A URL `rearbuild publish` and `fetch` accept: an artifact store's."""
    url = Url.parse(text, Use.OUTPUT)
    if url.scheme.reach is not Reach.REMOTE:
        raise UserError(f"{text!r} is not an artifact store",
                        hint="use s3://BUCKET/PREFIX, http(s)://HOST/PATH or oci://REGISTRY/REPO[:TAG]")  # fmt: skip
    return url


def to_store(url: Url, files: Sequence[Path], provenance: Provenance, *, prefix: str, s3_endpoint: str,
             known: Mapping[Path, str] | None = None) -> str:  # fmt: skip
    """Publish files to the artifact store url (+ prefix; OCI: tag from the host and SOURCE_DATE_EPOCH when the
    URL has none); the set's location, which `rearbuild fetch` takes."""
    for path in files:
        if not path.is_file():
            raise UserError(f"result file {path} does not exist", hint="build it again, or name an existing file")
    store = open_store(url, prefix=prefix, s3_endpoint=s3_endpoint,
                       tag=default_tag(provenance.host, provenance.source_date_epoch))  # fmt: skip
    metadata = describe(files, provenance, known)
    publish_set(store, {path.name: path for path in files}, metadata)
    return store.location


def _copy(source: Path, target: Path) -> None:
    """Through <target>.part and a rename: a reader never sees half a file under the final name. The copy keeps
    the source's permission bits: an ISO holding a backup stays readable by root only."""
    tmp = target.with_name(target.name + ".part")
    shutil.copyfile(source, tmp)
    shutil.copymode(source, tmp)
    tmp.replace(target)


def keep_old_copy(directory: Path) -> Path | None:
    """ReaR's KEEP_OLD_OUTPUT_COPY (output/default/150_save_copy_of_prefix_dir.sh): directory becomes
    directory.old, replacing an older one; the .old directory, or None when there was nothing to keep."""
    if not directory.is_dir() or not any(directory.iterdir()):
        return None
    old = directory.with_name(directory.name + ".old")
    try:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old)
        elif old.exists() or old.is_symlink():
            old.unlink()
        directory.rename(old)
    except OSError as exc:
        raise UserError(f"cannot keep the old results {directory} as {old.name}: {exc.strerror}",
                        hint="check the permissions at OUTPUT_URL, or unset KEEP_OLD_OUTPUT_COPY") from exc  # fmt: skip
    notice("previous results kept in %s", old)
    return old


def publish(
    files: Sequence[Path],
    *,
    output_url: str,
    backup_url: str,
    prefix: str,
    known: Mapping[Path, str],
    log_file: Path | None,
    provenance: Provenance | None = None,
    s3_endpoint: str = "",
    keep_old: bool = False,
    protect: Path | None = None,
) -> list[Path]:
    """Copy files (with a .sha256 beside each) and the log to the destination, or send them to an artifact store;
    the published local paths. known: digests output steps computed while writing the files (keyed by the file
    as built). keep_old: KEEP_OLD_OUTPUT_COPY, the previous results move to <dir>.old first, unless that
    directory is `protect`, the backup's (a file:// BACKUP_URL that OUTPUT_URL shares): moving it would take the
    backup the new rescue system restores from out of its place (NETFS_KEEP_OLD_BACKUP_COPY keeps backups)."""
    if not files:
        return []
    url = output_location(output_url, backup_url)
    target_dir = destination(output_url, backup_url, prefix)
    if target_dir is not None and keep_old:
        if protect is not None and target_dir == protect:
            notice("KEEP_OLD_OUTPUT_COPY: %s holds the backup too and stays in place", target_dir)
        else:
            keep_old_copy(target_dir)
    if target_dir is not None:
        try:
            target_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create {target_dir} for OUTPUT_URL: {exc.strerror}") from exc
    published: list[Path] = []
    for path in files:
        if not path.is_file():
            raise UserError(f"result file {path} does not exist", hint="check RESULT_FILES")
        target = path
        if target_dir is not None:
            target = target_dir / path.name
            _copy(path, target)
        # the digest of a file an output recipe already hashed while writing it is not computed twice
        write_side_file(target, known.get(path) or sha256_file(target))
        notice("result: %s", target)
        published.append(target)
    if target_dir is not None and log_file is not None and log_file.exists():
        # the log of this run so far: how the image was made travels with it
        copy_log(log_file, target_dir / log_file.name)
    if url is not None and url.scheme.reach is Reach.REMOTE:
        if provenance is None:
            raise InternalError("publishing to an artifact store needs the results' provenance")
        digests = {path: known.get(path) or sha256_file(path) for path in files}
        to_store(url, files, provenance, prefix=prefix, s3_endpoint=s3_endpoint, known=digests)
    return published


def record_latest(record: Path, files: Sequence[Path], provenance: Provenance) -> None:
    """Remember this run's results (where they were built) for `rearbuild publish URL` without files."""
    record.parent.mkdir(parents=True, exist_ok=True)
    doc = {"files": [str(p.resolve()) for p in files], "provenance": provenance.to_json()}
    atomic_write(record, (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode())


def read_latest(record: Path) -> tuple[list[Path], Provenance]:
    try:
        doc = json.loads(record.read_text())
        return [Path(p) for p in doc["files"]], Provenance.from_json(doc["provenance"])
    except FileNotFoundError:
        raise UserError(f"no results of this host recorded ({record} is missing)",
                        hint="build them first (rearbuild image), or name the files: "
                             "rearbuild publish URL FILE...") from None  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError):
        raise UserError(f"{record} is damaged", hint="build again (rearbuild image), or name the files") from None
