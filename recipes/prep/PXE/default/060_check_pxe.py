"""OUTPUT=PXE: the PXE_* settings are read and checked before anything is built (ReaR finds a wrong
PXE_CREATE_LINKS or an unwritable scheme only in the output stage). The work is rearbuild.output.pxe."""

from __future__ import annotations

from rearbuild.context import Context
from rearbuild.output.pxe import VARIABLES, settings_from


def main(ctx: Context) -> None:
    settings_from({name: ctx.text(name) for name in VARIABLES}, ())
