"""BACKUP=BORG: borg is installed, the settings are sound and the repository answers -- one that does not exist
yet is created -- before anything is built (ReaR: prep/BORG/default/200_prep_borg.sh, 300_init_archive.sh)."""

from __future__ import annotations

from rearbuild.backup.borg import check_installed, prepare_repository, required_programs, settings
from rearbuild.context import Context


def main(ctx: Context) -> None:
    s = settings(ctx.settings)
    check_installed(s)
    ctx.state.borg_archives = prepare_repository(s, create=True)
    ctx.add("REQUIRED_PROGS", *(p for p in required_programs(s) if p not in ctx.items("REQUIRED_PROGS")))
