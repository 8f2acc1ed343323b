"""Publishing the results (ReaR: output/default/950_copy_result_files.sh): copy them with a sha256 file and the
build log to OUTPUT_URL/OUTPUT_PREFIX (an empty OUTPUT_URL takes BACKUP_URL when rearbuild can write its scheme
as OUTPUT_URL, file:// today, as in ReaR). Without either they stay where they were built, with the sha256."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from rearbuild.checksum import sha256_file, write_side_file
from rearbuild.errors import UserError
from rearbuild.log import copy_log, notice
from rearbuild.url import Reach, Scheme, Url, Use


def destination(output_url: str, backup_url: str, prefix: str) -> Path | None:
    """The directory the results are copied to; None: they stay where they were built (no OUTPUT_URL, null)."""
    output_url = output_url.strip()
    backup_url = backup_url.strip()
    inherited = Scheme.of(backup_url)
    if not output_url and inherited is not None and inherited.implemented_for(Use.OUTPUT):
        # ReaR: an empty OUTPUT_URL inherits BACKUP_URL, so the ISO lands beside the backup
        output_url = backup_url
    if not output_url:
        return None
    url = Url.parse(output_url, Use.OUTPUT)
    if url.scheme.reach is Reach.NOWHERE:
        return None
    return url.archive_dir(Path(url.path), prefix)


def _copy(source: Path, target: Path) -> None:
    """Through <target>.part and a rename: a reader never sees half a file under the final name. The copy keeps
    the source's permission bits: an ISO holding a backup stays readable by root only."""
    tmp = target.with_name(target.name + ".part")
    shutil.copyfile(source, tmp)
    shutil.copymode(source, tmp)
    tmp.replace(target)


def publish(
    files: Sequence[Path],
    *,
    output_url: str,
    backup_url: str,
    prefix: str,
    known: Mapping[Path, str],
    log_file: Path | None,
) -> list[Path]:
    """Copy files (with a .sha256 beside each) and the log to the destination; the published paths.
    known: digests output steps computed while writing the files (keyed by the file as built)."""
    if not files:
        return []
    target_dir = destination(output_url, backup_url, prefix)
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
    return published
