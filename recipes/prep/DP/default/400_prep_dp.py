"""BACKUP=DP: the client must be installed (else mkrescue stops here, naming it), and its files and programs go
into the rescue image (ReaR: prep/DP/default/400_prep_*.sh)."""

from __future__ import annotations

from rearbuild.backup.dp import settings
from rearbuild.backup.vendor import check_client
from rearbuild.context import Context


def main(ctx: Context) -> None:
    payload = settings(ctx.settings).payload
    check_client(payload)
    ctx.add("COPY_AS_IS", *payload.files)
    ctx.add("COPY_AS_IS_EXCLUDE", *payload.exclude)
    ctx.add("PROGS", *(p for p in payload.programs if p not in ctx.items("PROGS")))
