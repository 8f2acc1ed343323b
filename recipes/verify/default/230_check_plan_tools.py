"""The programs the disk plan runs are present, and an unattended recovery needs no passphrase typed."""

from __future__ import annotations

import logging

from rearbuild.context import Context
from rearbuild.errors import UserError
from rearbuild.recover.disks import missing_programs
from rearbuild.recover.options import recover_options
from rearbuild.recover.recreate import plan_of, recreates_disks

log = logging.getLogger("rearbuild.recipes.verify")


def main(ctx: Context) -> None:
    if not recreates_disks(ctx):
        return
    plan = plan_of(ctx)
    options = recover_options(ctx)
    problems: list[str] = []
    missing = missing_programs(plan)
    if missing:
        problems.append(f"the disk plan needs {', '.join(missing)}, which this system lacks")
    if ctx.options.non_interactive and plan.passphrases and options.touches_disks:
        problems.append(
            f"the LUKS device(s) {', '.join(plan.passphrases)} need a passphrase typed on the terminal, "
            "and this recovery is unattended"
        )
    if problems and options.touches_disks:
        raise UserError(
            "; ".join(problems),
            hint="add the programs to PROGS and rebuild the rescue image; for LUKS, name a key file present in "
            "the rescue system (keyfile= in disklayout.conf, COPY_AS_IS for the file)",
        )
    for problem in problems:
        log.warning("%s", problem)
