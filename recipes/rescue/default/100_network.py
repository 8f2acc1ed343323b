"""Network and identity of the host for the rescue system, as the rescue system is to configure them
(EXCLUDE_NETWORK_INTERFACES, EXCLUDE_IP_ADDRESSES, SIMPLIFY_BONDING/_BRIDGE/_TEAMING: rearbuild.collect.rescuenet)."""

from __future__ import annotations

from rearbuild.collect.network import collect_network
from rearbuild.collect.rescuenet import RescueNetSettings, rescue_network
from rearbuild.context import Context


def main(ctx: Context) -> None:
    host = collect_network(ctx.text("HOSTNAME"))
    ctx.state.network = rescue_network(host, RescueNetSettings.from_config(ctx.settings))
