"""Device names and UUIDs that changed during recreation (migration to other disks) are patched in the restored
fstab, crypttab and boot loader configuration. The plan keeps UUIDs, so usually nothing changes."""

from __future__ import annotations

from pathlib import Path

from rearbuild.context import Context
from rearbuild.log import notice
from rearbuild.recover.patch import FILES_TO_PATCH, patch_files


def main(ctx: Context) -> None:
    root = ctx.results.get("finalize_root")
    if not isinstance(root, Path):
        return
    mappings = dict(ctx.results.get("device_mappings", {})) | dict(ctx.results.get("uuid_mappings", {}))
    changed = patch_files(root, mappings, (*FILES_TO_PATCH, *ctx.items("FILES_TO_PATCH_PATTERNS")))
    for path in changed:
        notice("patched %s", path)
    ctx.results["identities_changed"] = bool(changed)
