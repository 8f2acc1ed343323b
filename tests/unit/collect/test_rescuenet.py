"""EXCLUDE_NETWORK_INTERFACES, EXCLUDE_IP_ADDRESSES, SIMPLIFY_BONDING/_BRIDGE/_TEAMING: what the rescue system's
network plan (etc/rear/network.conf, read by the rescue init) gets from a host with a bond, a bridge and a team."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rearbuild.build.generated import network_conf
from rearbuild.collect.rescuenet import Aggregate, RescueNetSettings, rescue_network
from rearbuild.errors import UserError
from tests.conftest import RearEnv, shipped_config


def _nic(name: str, mac: str, *, master: str = "", state: str = "", up: bool = True, perm: str = "",
         addresses: tuple[str, ...] = (), kind: str = "", physical: bool = True,
         mode: str = "") -> dict[str, Any]:  # fmt: skip
    return {"name": name, "mac": mac, "mtu": 1500, "physical": physical, "up": up, "addresses": list(addresses),
            "dynamic": False, "kind": kind, "bond_mode": mode, "master": master, "port_state": state,
            "permanent_mac": perm}  # fmt: skip


BOND_MAC = "52:54:00:00:00:b0"
HOST = {
    "hostname": "h",
    "interfaces": [
        _nic("bond0", BOND_MAC, kind="bond", physical=False, mode="active-backup", addresses=("192.0.2.10/24",)),
        # a bond gives its ports its MAC: the rescue system, without the bond, sees the permanent ones
        _nic("eth0", BOND_MAC, master="bond0", state="BACKUP", perm="52:54:00:00:00:01"),
        _nic("eth1", BOND_MAC, master="bond0", state="ACTIVE", perm="52:54:00:00:00:02"),
        _nic("br0", "52:54:00:00:00:b1", kind="bridge", physical=False, addresses=("198.51.100.5/24",)),
        _nic("eth2", "52:54:00:00:00:03", master="br0"),
        _nic("team0", "52:54:00:00:00:b2", kind="team", physical=False, addresses=("10.9.0.5/16",)),
        _nic("eth4", "52:54:00:00:00:05", master="team0", up=False),
        _nic("eth5", "52:54:00:00:00:06", master="team0"),
        _nic("eth3", "52:54:00:00:00:04", addresses=("203.0.113.7/24", "203.0.113.99/24")),
    ],
    "routes": [{"dst": "default", "gateway": "192.0.2.1", "dev": "bond0"},
               {"dst": "10.0.0.0/8", "gateway": "203.0.113.1", "dev": "eth3"}],
    "nameservers": ["198.18.0.53"],
    "search": [],
}


def test_without_settings_aggregates_stay_unconfigured_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    plan = network_conf(rescue_network(HOST, RescueNetSettings()))
    assert "192.0.2.10" not in plan and "198.51.100.5" not in plan and "default" not in plan
    assert "addr 52:54:00:00:00:04 203.0.113.7/24" in plan
    assert "bond0 (bond) has 192.0.2.10/24, but the rescue system configures physical interfaces only: set " \
        "SIMPLIFY_BONDING=y" in caplog.text  # fmt: skip


def test_simplify_gives_the_addresses_and_routes_to_the_first_active_port() -> None:
    settings = RescueNetSettings(simplify=frozenset(Aggregate))
    plan = network_conf(rescue_network(HOST, settings)).splitlines()
    # bond0: its ACTIVE port eth1, found by its permanent MAC; the default route follows
    assert "addr 52:54:00:00:00:02 192.0.2.10/24" in plan
    assert "route default 192.0.2.1 52:54:00:00:00:02" in plan
    assert "addr 52:54:00:00:00:03 198.51.100.5/24" in plan  # br0 -> eth2
    assert "addr 52:54:00:00:00:06 10.9.0.5/16" in plan  # team0 -> eth5, the port that is up
    assert not [line for line in plan if BOND_MAC in line]


def test_an_8023ad_bond_is_not_simplified(caplog: pytest.LogCaptureFixture) -> None:
    host = {**HOST, "interfaces": [{**i, "bond_mode": "802.3ad"} if i["name"] == "bond0" else i
                                   for i in HOST["interfaces"]]}  # type: ignore[attr-defined]  # fmt: skip
    plan = network_conf(rescue_network(host, RescueNetSettings(simplify=frozenset({Aggregate.BOND}))))
    assert "192.0.2.10" not in plan and "bond0 (bond) has 192.0.2.10/24" in caplog.text


def test_excluded_interfaces_and_addresses_are_not_configured() -> None:
    settings = RescueNetSettings(exclude_interfaces=("bond0",), exclude_addresses=("203.0.113.99",),
                                 simplify=frozenset(Aggregate))  # fmt: skip
    network = rescue_network(HOST, settings)
    assert {i["name"] for i in network["interfaces"]} >= {"eth3", "br0"}
    assert not {"bond0", "eth0", "eth1"} & {i["name"] for i in network["interfaces"]}
    plan = network_conf(network)
    assert "192.0.2" not in plan and "203.0.113.99" not in plan and "addr 52:54:00:00:00:04 203.0.113.7/24" in plan
    assert "route 10.0.0.0/8 203.0.113.1 52:54:00:00:00:04" in plan
    assert HOST["interfaces"][0]["addresses"] == ["192.0.2.10/24"]  # type: ignore[index]  # the input is unchanged


def test_the_settings_are_rears_variables(rear_env: RearEnv) -> None:
    config = shipped_config(rear_env, "SIMPLIFY_BONDING=yes\nSIMPLIFY_TEAMING=1\nEXCLUDE_NETWORK_INTERFACES=( eth9 )\n"
                                      "EXCLUDE_IP_ADDRESSES=( 192.0.2.99 )\n", "mkrescue")  # fmt: skip
    settings = RescueNetSettings.from_config(config)
    assert settings == RescueNetSettings(("eth9",), ("192.0.2.99",), frozenset({Aggregate.BOND, Aggregate.TEAM}))
    assert RescueNetSettings.from_config(shipped_config(rear_env, "", "mkrescue")) == RescueNetSettings()


def test_use_resolv_conf_chooses_the_rescue_systems_name_service(tmp_path: Path) -> None:
    host = {**HOST, "search": ["corp.example"]}
    default = rescue_network(host, RescueNetSettings())
    assert (default["nameservers"], default["search"]) == (["198.18.0.53"], ["corp.example"])
    assert "dns 198.18.0.53\nsearch corp.example\n" in network_conf(default)
    off = rescue_network(host, RescueNetSettings(resolv_conf=("no",)))
    assert "dns" not in network_conf(off) and "search" not in network_conf(off)
    lines = rescue_network(host, RescueNetSettings(resolv_conf=("search a.example b.example", "nameserver 192.0.2.9")))
    assert network_conf(lines).endswith("dns 192.0.2.9\nsearch a.example b.example\n")
    path = tmp_path / "resolv.conf.rescue"
    path.write_text("# for the rescue system\nnameserver 192.0.2.7\n")
    from_file = rescue_network(host, RescueNetSettings(resolv_conf=(str(path),)))
    assert (from_file["nameservers"], from_file["search"]) == (["192.0.2.7"], [])
    with pytest.raises(UserError, match=r"USE_RESOLV_CONF=/nonexistent/resolv\.conf: cannot read it"):
        rescue_network(host, RescueNetSettings(resolv_conf=("/nonexistent/resolv.conf",)))


def test_use_resolv_conf_lines_are_read_as_elements(rear_env: RearEnv) -> None:
    config = shipped_config(rear_env, 'USE_RESOLV_CONF=( "search x.example" "nameserver 192.0.2.1" )\n', "mkrescue")
    assert RescueNetSettings.from_config(config).resolv_conf == ("search x.example", "nameserver 192.0.2.1")
