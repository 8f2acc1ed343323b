"""Files generated for a rescue image: what tells the framework it runs in a rescue system, the configuration
it recovers with, the saved layout, the network plan, and the recovery program itself."""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from rearbuild import __version__
from rearbuild.build.cpio import Entry, Kind
from rearbuild.build.rootfs import tree_entries
from rearbuild.build.zipapp import zipapp_bytes
from rearbuild.config.bashstate import Value, bash_assignment
from rearbuild.manifest import Manifest

SHARE_IN_IMAGE = "usr/share/rear"
ZIPAPP_IN_IMAGE = f"{SHARE_IN_IMAGE}/rearbuild.pyz"

# `rear` and `rearbuild` in the rescue system: the zipapp with the image's share directory (-I: the rescue
# Python ignores PYTHON* variables and user site-packages).
# An assignment of the backup's encryption key and its value (quoted or not), wherever it stands: ReaR's own
# advice is `{ BACKUP_PROG_CRYPT_KEY='secret' ; } 2>/dev/null`, so the rest of the line must survive.
# BORG_PASSPHRASE likewise (ReaR keeps it), unless BORGBACKUP_PASSPHRASE_IN_IMAGE=yes asks for an unattended restore.
SECRETS = ("BACKUP_PROG_CRYPT_KEY", "BORG_PASSPHRASE")


def _secret_re(name: str) -> re.Pattern[bytes]:
    return re.compile(rb"""(^|[\s;{])""" + name.encode() + rb"""=(?:'[^']*'|"(?:[^"\\]|\\.)*"|[^\s;}]*)""", re.M)


def blanked_secrets(*, keep_borg_passphrase: bool) -> tuple[str, ...]:
    """The variables whose assignments are blanked in the image's copy of the configuration."""
    return tuple(n for n in SECRETS if not (keep_borg_passphrase and n == "BORG_PASSPHRASE"))


_WRAPPER = f"""#!/bin/sh
REARBUILD_SHARE_DIR=/{SHARE_IN_IMAGE} exec /usr/bin/python3 -I /{ZIPAPP_IN_IMAGE} "$@"
"""


def network_conf(network: Mapping[str, Any]) -> str:
    """The rescue init's network plan (see skel/default/init): interfaces are named by MAC."""
    lines: list[str] = []
    macs = {i["name"]: i["mac"] for i in network.get("interfaces", [])}
    for iface in network.get("interfaces", []):
        if not iface.get("physical") or not iface.get("addresses"):
            continue
        lines.append(f"link {iface['mac']}")
        lines += [f"addr {iface['mac']} {a}" for a in iface["addresses"]]
    for route in network.get("routes", []):
        if route.get("gateway") and route.get("dev") in macs:
            lines.append(f"route {route['dst']} {route['gateway']} {macs[route['dev']]}")
    lines += [f"dns {ns}" for ns in network.get("nameservers", [])]
    if network.get("search"):
        lines.append("search " + " ".join(network["search"]))
    return "".join(line + "\n" for line in lines)


def rescue_conf(variables: Mapping[str, Value]) -> str:
    lines = [
        "# rescue.conf: written by rearbuild when this rescue image was built; read after local.conf in the",
        "# rescue system (ReaR's order). Do not edit: change the host's configuration and build again.",
    ]
    lines += [bash_assignment(name, value) for name, value in sorted(variables.items())]
    return "\n".join(lines) + "\n"


def generated_entries(
    *,
    manifest: Manifest,
    config: Sequence[Entry],
    share_dir: Path,
    package_dir: Path,
    epoch: int,
    modules_load: Sequence[str],
    rescue_variables: Mapping[str, Value],
) -> list[Entry]:
    hostname = manifest.facts.get("HOSTNAME", "rescue")
    entries = [
        Entry.from_bytes("etc/rear-release", f"rearbuild {__version__} rescue system of {hostname}\n".encode()),
        Entry.from_bytes("etc/hostname", f"{hostname}\n".encode()),
        Entry.from_bytes("etc/rear/network.conf", network_conf(manifest.network).encode()),
        Entry.from_bytes("etc/rear/modules-load", "".join(f"{m}\n" for m in modules_load).encode()),
        Entry.from_bytes("etc/rear/rescue.conf", rescue_conf(rescue_variables).encode(), 0o600),
        Entry.from_bytes(ZIPAPP_IN_IMAGE, zipapp_bytes(package_dir, epoch=epoch), 0o755),
        Entry.from_bytes("usr/sbin/rear", _WRAPPER.encode(), 0o755),
        Entry.from_bytes("usr/sbin/rearbuild", _WRAPPER.encode(), 0o755),
    ]
    if manifest.layout:
        entries.append(Entry.from_bytes("var/lib/rear/layout/disklayout.conf", manifest.layout.encode(), 0o600))
    for part in ("conf", "recipes"):
        if (share_dir / part).is_dir():
            entries += tree_entries(share_dir / part, f"{SHARE_IN_IMAGE}/{part}")
    entries += config
    return entries


def config_entries(config_dir: Path, private: Collection[Path] = (), secrets: Collection[str] = SECRETS) -> list[Entry]:
    """The user's configuration as it goes into the image (ReaR copies /etc/rear), private: it may hold secrets.
    The backup's encryption key never does (ReaR: build/default/960_remove_encryption_keys.sh): its assignments
    are blanked, so the rescue system asks for the key when it restores. A bundle carries these entries.
    private: files kept out altogether, e.g. a signing key (UKI_SIGN_KEY) kept under the configuration directory.
    secrets: the variables blanked (blanked_secrets())."""
    patterns = [(_secret_re(name), name.encode()) for name in secrets]
    entries: list[Entry] = []
    if not config_dir.is_dir():
        return entries
    left_out = {os.path.realpath(p) for p in private}
    for entry in tree_entries(config_dir, "etc/rear"):
        if entry.path.endswith("/rescue.conf"):
            continue
        if entry.source is not None and os.path.realpath(entry.source) in left_out:
            continue
        if entry.kind is Kind.FILE and entry.source is not None:
            data = entry.source.read_bytes()
            cleaned = data
            for pattern, name in patterns:
                cleaned = pattern.sub(rb"\1" + name + rb"=''", cleaned)
            entry = (
                Entry.from_bytes(entry.path, cleaned, 0o600)
                if cleaned != data
                else Entry.file(entry.path, entry.source, 0o600)
            )
        entries.append(entry)
    return entries
