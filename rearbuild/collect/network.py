"""Network and identity of the host, for the rescue system: interfaces with MAC, addresses, routes, DNS,
hostname (ReaR's rescue/GNU/Linux/300_dns.sh, 310_network_devices.sh, 350_routing.sh), as plain data that
mappings can later remap."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from rearbuild.errors import UserError
from rearbuild.run import run

log = logging.getLogger("rearbuild.collect")

_SYS_NET = Path("/sys/class/net")


def _ip_json(*args: str) -> list[dict[str, Any]]:
    try:
        result = run(["ip", "-j", *args], check=False)
    except UserError as exc:  # no ip(8): the rescue system gets no network configuration
        log.warning("cannot read the network configuration: %s", exc)
        return []
    if result.returncode != 0:
        log.warning("ip %s failed: %s", " ".join(args), result.err.strip())
        return []
    try:
        data = json.loads(result.out or "[]")
    except ValueError:
        log.warning("ip %s printed no JSON", " ".join(args))
        return []
    return [d for d in data if isinstance(d, dict)]


def _is_physical(name: str) -> bool:
    # A device with a bus device behind it (PCI, virtio, USB) is hardware the rescue system will see again;
    # bridges, bonds, veths, tunnels and ifb devices are configuration, not hardware.
    return os.path.exists(_SYS_NET / name / "device")


def _aggregation(link: dict[str, Any]) -> dict[str, Any]:
    """What `ip -d` tells about bonds, bridges and teams (iproute2's JSON, "linkinfo"): the master's kind and bond
    mode, a port's master, its state in a bond (ACTIVE/BACKUP) and its own MAC (a bond gives its ports its MAC;
    the rescue system, without the bond, sees each port's permanent one)."""
    info = link.get("linkinfo") or {}
    slave = info.get("info_slave_data") or {}
    return {
        "kind": str(info.get("info_kind", "")),
        "bond_mode": str((info.get("info_data") or {}).get("mode", "")),
        "master": str(link.get("master", "")),
        "port_state": str(slave.get("state", "")),
        "permanent_mac": str(slave.get("perm_hwaddr") or link.get("permaddr") or ""),
    }


def parse_resolv_conf(text: str) -> tuple[list[str], list[str]]:
    """The name servers and search domains of resolv.conf(5) text."""
    nameservers: list[str] = []
    search: list[str] = []
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver":
            nameservers.append(words[1])
        elif words and words[0] in ("search", "domain"):
            search.extend(words[1:])
    return nameservers, search


def collect_network(hostname: str) -> dict[str, Any]:
    interfaces = []
    for link in _ip_json("-d", "addr", "show"):
        name = str(link.get("ifname", ""))
        if not name or link.get("link_type") != "ether":
            continue
        addresses = sorted(
            f"{a['local']}/{a['prefixlen']}"
            for a in link.get("addr_info", [])
            if a.get("scope") == "global" and "local" in a and "prefixlen" in a
        )
        interfaces.append(
            {
                "name": name,
                "mac": str(link.get("address", "")),
                "mtu": int(link.get("mtu", 1500)),
                "physical": _is_physical(name),
                "up": "UP" in link.get("flags", []),
                "addresses": addresses,
                "dynamic": any(a.get("dynamic") for a in link.get("addr_info", [])),
                **_aggregation(link),
            }
        )
    routes = sorted(
        (
            {"dst": str(r["dst"]), "gateway": str(r.get("gateway", "")), "dev": str(r.get("dev", ""))}
            for r in _ip_json("route", "show")
            if "dst" in r and r.get("protocol") != "kernel"
        ),
        key=lambda r: (r["dst"], r["dev"]),
    )
    try:
        nameservers, search = parse_resolv_conf(Path("/etc/resolv.conf").read_text())
    except OSError:
        nameservers, search = [], []
    return {
        "hostname": hostname,
        "interfaces": sorted(interfaces, key=lambda i: i["name"]),
        "routes": routes,
        "nameservers": nameservers,
        "search": search,
    }
