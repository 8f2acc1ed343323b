"""Network and identity of the host for the rescue system."""

from __future__ import annotations

from rearbuild.collect.network import collect_network
from rearbuild.context import Context


def main(ctx: Context) -> None:
    ctx.state.network = collect_network(ctx.text("HOSTNAME"))
