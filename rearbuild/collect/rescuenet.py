"""What of the host's network the rescue system configures: ReaR's EXCLUDE_NETWORK_INTERFACES,
EXCLUDE_IP_ADDRESSES and SIMPLIFY_BONDING / SIMPLIFY_BRIDGE / SIMPLIFY_TEAMING (conf/default.conf;
rescue/GNU/Linux/310_network_devices.sh) and USE_RESOLV_CONF, applied to collect.network's facts before they go
into the manifest.

The rescue init configures physical interfaces only, found by MAC (skel/default/init, build.generated.network_conf):
a bond, bridge or team is not rebuilt there. Simplifying one gives its addresses and routes to its first active
physical port (with the port's own MAC), as ReaR does; ReaR leaves an IEEE 802.3ad bond (mode 4) alone, since the
switch expects LACP, and so does rearbuild. A team's runner (ReaR leaves 'lacp' alone) is not visible to `ip`:
SIMPLIFY_TEAMING simplifies every team. An aggregate that keeps addresses without being simplified gets a warning:
the rescue system would come up without them.
"""

from __future__ import annotations

import copy
import enum
import ipaddress
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rearbuild.collect.network import parse_resolv_conf
from rearbuild.config.model import Config, truth
from rearbuild.errors import UserError

log = logging.getLogger("rearbuild.collect.rescuenet")


class Aggregate(enum.Enum):
    """The kinds of interface that group ports, with the variable that simplifies them."""

    BOND = "bond"
    BRIDGE = "bridge"
    TEAM = "team"

    @property
    def variable(self) -> str:
        return {"bond": "SIMPLIFY_BONDING", "bridge": "SIMPLIFY_BRIDGE", "team": "SIMPLIFY_TEAMING"}[self.value]

    def keeps(self, interface: dict[str, Any]) -> bool:
        """Whether simplifying would break it: IEEE 802.3ad (LACP) bonds need the bond (ReaR's exception)."""
        return self is Aggregate.BOND and interface.get("bond_mode") in ("802.3ad", "4")


@dataclass(frozen=True)
class RescueNetSettings:
    exclude_interfaces: tuple[str, ...] = ()
    exclude_addresses: tuple[str, ...] = ()
    simplify: frozenset[Aggregate] = frozenset()
    # USE_RESOLV_CONF (elements): () = the host's /etc/resolv.conf; a no-word = no name service; one existing file
    # on this host = that file; otherwise the lines of the rescue system's resolv.conf.
    resolv_conf: tuple[str, ...] = ()

    def resolver(self, host_nameservers: list[str], host_search: list[str]) -> tuple[list[str], list[str]]:
        """(name servers, search domains) of the rescue system (ReaR: build/GNU/Linux/630_verify_resolv_conf_file)."""
        given = [x for x in self.resolv_conf if x.strip()]
        if not given:
            return host_nameservers, host_search
        if len(given) == 1 and truth(given[0]) is False:
            return [], []
        if len(given) == 1 and given[0].startswith("/"):
            try:
                return parse_resolv_conf(Path(given[0]).read_text())
            except OSError as exc:
                raise UserError(
                    f"USE_RESOLV_CONF={given[0]}: cannot read it: {exc.strerror}",
                    hint="name an existing file, give the lines themselves, or set it to no",
                ) from exc
        return parse_resolv_conf("\n".join(given))

    @classmethod
    def from_config(cls, config: Config) -> RescueNetSettings:
        return cls(
            exclude_interfaces=config.items("EXCLUDE_NETWORK_INTERFACES"),
            exclude_addresses=config.items("EXCLUDE_IP_ADDRESSES"),
            simplify=frozenset(a for a in Aggregate if config.flag(a.variable)),
            resolv_conf=config.elements("USE_RESOLV_CONF"),
        )


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_interface(text).ip
    except ValueError:
        return None


def _excluded_address(address: str, excluded: Sequence[str]) -> bool:
    ip = _address(address)
    return any(ip is not None and ip == _address(x) for x in excluded)


def _first_port(ports: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """ReaR's "first active device": a bond's ACTIVE port, else the first port that is up, else the first."""
    ordered = sorted(ports, key=lambda p: (p.get("port_state") != "ACTIVE", not p.get("up"), p["name"]))
    return ordered[0] if ordered else None


def rescue_network(network: dict[str, Any], settings: RescueNetSettings) -> dict[str, Any]:
    """collect.network's facts as the rescue system is to configure them (a new dict; the input is unchanged)."""
    result = copy.deepcopy(network)
    gone = set(settings.exclude_interfaces)
    interfaces = [i for i in result.get("interfaces", []) if i["name"] not in gone and i.get("master") not in gone]
    renamed: dict[str, str] = {}
    for interface in interfaces:
        interface["addresses"] = [a for a in interface.get("addresses", [])
                                  if not _excluded_address(a, settings.exclude_addresses)]  # fmt: skip
        try:
            kind = Aggregate(interface.get("kind", ""))
        except ValueError:
            continue
        if not interface["addresses"]:
            continue
        if kind not in settings.simplify or kind.keeps(interface):
            log.warning("%s (%s) has %s, but the rescue system configures physical interfaces only%s",
                        interface["name"], kind.value, " ".join(interface["addresses"]),
                        "" if kind.keeps(interface) else f": set {kind.variable}=y to give them to its first "
                        "active port")  # fmt: skip
            continue
        port = _first_port([i for i in interfaces if i.get("master") == interface["name"] and i.get("physical")])
        if port is None:
            log.warning("%s (%s) has no physical port to simplify it to", interface["name"], kind.value)
            continue
        log.info("%s=y: %s gets the addresses of %s", kind.variable, port["name"], interface["name"])
        port["addresses"], interface["addresses"] = interface["addresses"], []
        port["mac"] = port.get("permanent_mac") or port["mac"]
        renamed[interface["name"]] = port["name"]
    result["interfaces"] = interfaces
    # Routes through what the rescue system configures (a physical interface with addresses) and nothing else:
    # through an unconfigured bond the route would land on whichever port happens to carry the bond's MAC.
    kept = {i["name"] for i in interfaces if i.get("physical") and i["addresses"]}
    routes = []
    for route in result.get("routes", []):
        dev = renamed.get(route.get("dev", ""), route.get("dev", ""))
        if dev in kept:
            routes.append({**route, "dev": dev})
    result["routes"] = routes
    result["nameservers"], result["search"] = settings.resolver(list(result.get("nameservers", [])),
                                                                list(result.get("search", [])))  # fmt: skip
    return result
