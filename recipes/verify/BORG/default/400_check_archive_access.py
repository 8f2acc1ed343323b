"""BACKUP=BORG: the repository answers with the passphrase given and the archive to restore is chosen, before
layout/recreate touches a disk (ReaR: verify/BORG/default/400_check_archive_access.sh and
restore/BORG/default/300_load_archives.sh)."""

from __future__ import annotations

from rearbuild.backup.borg import passphrase, settings, verify
from rearbuild.context import Context


def main(ctx: Context) -> None:
    s = passphrase(settings(ctx.settings), typed=ctx.state.crypt_key, interactive=ctx.interactive)
    ctx.state.crypt_key = s.environment.get("BORG_PASSPHRASE", "")
    ctx.state.borg_archive = verify(s, interactive=ctx.interactive)
