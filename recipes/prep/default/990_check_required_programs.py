"""Last in prep: the programs the methods' prep recipes added to REQUIRED_PROGS are here, before any work (a
missing one would otherwise be found out when the rescue system is assembled, or in the disaster)."""

from __future__ import annotations

from rearbuild.config.validate import missing_programs
from rearbuild.context import Context
from rearbuild.errors import UserError


def main(ctx: Context) -> None:
    missing = missing_programs(ctx.items("REQUIRED_PROGS"))
    if missing:
        raise UserError(
            f"REQUIRED_PROGS: {', '.join(missing)} not found here (the rescue system and its methods need them)",
            hint="install them, or remove them from REQUIRED_PROGS",
        )
