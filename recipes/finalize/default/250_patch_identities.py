"""Device names that changed during recreation (migration to other disks: $CONFIG_DIR/mappings/disk_mappings)
are patched in the restored fstab, crypttab and boot loader configuration. The plan keeps UUIDs, so without a
mapping nothing changes."""

from __future__ import annotations

from rearbuild.context import Context
from rearbuild.log import notice
from rearbuild.recover.patch import FILES_TO_PATCH, patch_files


def main(ctx: Context) -> None:
    root = ctx.state.finalize_root
    if root is None:
        return
    patterns = (*FILES_TO_PATCH, *ctx.items("FILES_TO_PATCH_PATTERNS"))
    changed = patch_files(root, ctx.state.device_mappings, patterns)
    for path in changed:
        notice("patched %s", path)
    ctx.state.identities_changed = bool(changed)
