"""Publish the results (ReaR: output/default/950_copy_result_files.sh): copy them with a sha256 file and the
build log to OUTPUT_URL/OUTPUT_PREFIX (an empty OUTPUT_URL takes a file:// BACKUP_URL, as in ReaR). Without either
they stay where they were built, with the sha256."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from rearbuild.checksum import sha256_file
from rearbuild.context import Context
from rearbuild.errors import UserError
from rearbuild.log import notice
from rearbuild.output.url import OutputUrl


def main(ctx: Context) -> None:
    known: dict[Path, str] = dict(ctx.results.get("result_digests", {}))
    files = [*ctx.result_files, *(Path(p) for p in ctx.items("RESULT_FILES"))]
    if not files:
        return
    output_url = ctx.text("OUTPUT_URL").strip()
    backup_url = ctx.text("BACKUP_URL").strip()
    if not output_url and backup_url.startswith("file:"):
        # ReaR: an empty OUTPUT_URL inherits BACKUP_URL, so the ISO lands beside the backup
        output_url = backup_url
    url = OutputUrl.parse(output_url)
    destination = url.directory(ctx.text("OUTPUT_PREFIX")) if url is not None else None
    if destination is not None:
        try:
            destination.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create {destination} for OUTPUT_URL: {exc.strerror}") from exc
    for path in files:
        if not path.is_file():
            raise UserError(f"result file {path} does not exist", hint="check RESULT_FILES")
        target = path
        if destination is not None:
            target = destination / path.name
            tmp = target.with_name(target.name + ".part")
            shutil.copyfile(path, tmp)
            tmp.replace(target)
        # the digest of a file an output recipe already hashed while writing it is not computed twice
        digest = known.get(path) or sha256_file(target)
        target.with_name(target.name + ".sha256").write_text(f"{digest}  {target.name}\n")
        notice("result: %s", target)
    if destination is not None and ctx.log_file is not None and ctx.log_file.exists():
        # the log of this run so far: how the image was made travels with it
        for handler in logging.getLogger("rearbuild").handlers:
            handler.flush()
        shutil.copyfile(ctx.log_file, destination / ctx.log_file.name)
