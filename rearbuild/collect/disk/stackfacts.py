"""The storage stack above partitions as its tools report it: MD arrays, LVM and LUKS.

Sources: `mdadm --detail /dev/mdX` (text: mdadm(8) prints "Key : value" lines and a device table),
`lvm pvs|vgs|lvs --reportformat json --units b --nosuffix` (lvmreport(7)), `cryptsetup luksDump`
(text for LUKS1 and LUKS2; the JSON dump of LUKS2 metadata needs a newer cryptsetup than Debian 12's
for the cipher of the data segment in a stable form) and /etc/crypttab (crypttab(5)).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("rearbuild.collect.disk.stackfacts")

_LVM_COMMON = ("--reportformat", "json", "--units", "b", "--nosuffix")
LVM_PVS = ("lvm", "pvs", *_LVM_COMMON, "-o", "pv_name,vg_name,pv_uuid,pv_size")
LVM_VGS = ("lvm", "vgs", *_LVM_COMMON, "-o", "vg_name,vg_extent_size,vg_extent_count,vg_size")
# One row per segment (--segments), so that multi-segment LVs can be recognised; lv_layout is what ReaR
# writes as the layout field ("linear", "striped", "thin,pool", "thin,sparse", "raid,raid1", ...).
LVM_LVS = (
    "lvm",
    "lvs",
    "--segments",
    *_LVM_COMMON,
    "-o",
    "vg_name,lv_name,lv_size,lv_layout,lv_role,segtype,stripes,stripe_size,data_stripes,pool_lv,chunk_size,"
    "lv_metadata_size,origin",
)
CRYPTTAB = "/etc/crypttab"


def mdadm_argv(device: str) -> tuple[str, ...]:
    return ("mdadm", "--detail", device)


def luksdump_argv(device: str) -> tuple[str, ...]:
    return ("cryptsetup", "luksDump", device)


# ---------------------------------------------------------------------------------------------------------
# MD


@dataclass(frozen=True)
class MdDetail:
    device: str
    level: str
    raid_devices: int
    members: tuple[str, ...]
    spares: tuple[str, ...]
    name: str | None
    metadata: str | None
    uuid: str | None
    layout: str | None
    chunk: str | None


def parse_mdadm_detail(text: str, device: str) -> MdDetail | None:
    values: dict[str, str] = {}
    members: list[str] = []
    spares: list[str] = []
    for line in text.splitlines():
        key, sep, value = line.partition(" : ")
        if sep:
            values[key.strip()] = value.strip()
            continue
        words = line.split()
        # Device table rows: "Number Major Minor RaidDevice State... /dev/X" (mdadm(8) --detail).
        if len(words) >= 5 and words[0].isdigit() and words[-1].startswith("/dev/"):
            (spares if "spare" in words else members).append(words[-1])
    level = values.get("Raid Level")
    if level is None:
        log.warning("mdadm --detail %s printed no RAID level", device)
        return None
    chunk = values.get("Chunk Size")
    return MdDetail(
        device=device,
        level=level,
        raid_devices=int(values.get("Raid Devices", "0") or 0),
        members=tuple(members),
        spares=tuple(spares),
        # "host:root  (local to host host)": the name is the first word.
        name=values["Name"].split()[0] if values.get("Name") else None,
        metadata=values.get("Version"),
        uuid=values.get("UUID"),
        layout=values.get("Layout"),
        # "512K" in --detail; mdadm --create --chunk takes KiB by default and accepts the K suffix.
        chunk=chunk.lower().removesuffix("k") if chunk else None,
    )


# ---------------------------------------------------------------------------------------------------------
# LVM


@dataclass(frozen=True)
class PhysicalVolume:
    device: str
    vg: str
    uuid: str
    size: int


@dataclass(frozen=True)
class VolumeGroup:
    name: str
    extent_size: int
    extent_count: int
    size: int


@dataclass(frozen=True)
class LvSegment:
    vg: str
    lv: str
    size: int
    layout: str
    role: str
    segtype: str
    stripes: int
    stripe_size: int
    data_stripes: int
    pool: str | None
    chunk_size: int
    metadata_size: int
    origin: str | None


def _report(text: str, kind: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        log.warning("cannot parse the JSON report of lvm %ss: %s", kind, exc)
        return []
    rows: list[dict[str, Any]] = []
    for report in data.get("report", []):
        rows.extend(report.get(kind, []))
    return rows


def _n(value: Any) -> int:
    try:
        return int(str(value).strip() or 0)
    except ValueError:
        return 0


def parse_pvs(text: str) -> tuple[PhysicalVolume, ...]:
    return tuple(
        PhysicalVolume(r["pv_name"], r.get("vg_name", ""), r.get("pv_uuid", ""), _n(r.get("pv_size")))
        for r in _report(text, "pv")
        if r.get("pv_name")
    )


def parse_vgs(text: str) -> tuple[VolumeGroup, ...]:
    return tuple(
        VolumeGroup(r["vg_name"], _n(r.get("vg_extent_size")), _n(r.get("vg_extent_count")), _n(r.get("vg_size")))
        for r in _report(text, "vg")
        if r.get("vg_name")
    )


def parse_lvs(text: str) -> tuple[LvSegment, ...]:
    # With --segments lvm names the report "seg", without it "lv" (lvmreport(7)).
    rows = _report(text, "seg") or _report(text, "lv")
    return tuple(
        LvSegment(
            vg=r["vg_name"],
            lv=r["lv_name"],
            size=_n(r.get("lv_size")),
            layout=r.get("lv_layout", ""),
            role=r.get("lv_role", ""),
            segtype=r.get("segtype", ""),
            stripes=_n(r.get("stripes")),
            stripe_size=_n(r.get("stripe_size")),
            data_stripes=_n(r.get("data_stripes")),
            pool=r.get("pool_lv") or None,
            chunk_size=_n(r.get("chunk_size")),
            metadata_size=_n(r.get("lv_metadata_size")),
            origin=r.get("origin") or None,
        )
        for r in rows
        if r.get("vg_name") and r.get("lv_name")
    )


# ---------------------------------------------------------------------------------------------------------
# LUKS


@dataclass(frozen=True)
class LuksHeader:
    version: int
    uuid: str | None
    cipher: str | None
    key_bits: int | None
    hash: str | None
    pbkdf: str | None


def parse_luksdump(text: str) -> LuksHeader | None:
    """Both dump formats. LUKS1: "Cipher name:", "Cipher mode:", "MK bits:", "Hash spec:". LUKS2: the data
    segment's "cipher:", the first keyslot's "Cipher key: N bits", "PBKDF:" and the digest's "Hash:"."""
    version_m = re.search(r"^Version:\s*(\d+)", text, re.M)
    if version_m is None:
        return None
    uuid_m = re.search(r"^UUID:\s*(\S+)", text, re.M)
    uuid = uuid_m.group(1) if uuid_m else None

    def first(pattern: str, body: str = text) -> str | None:
        m = re.search(pattern, body, re.M)
        return m.group(1) if m else None

    if version_m.group(1) == "1":
        name, mode = first(r"^Cipher name:\s*(\S+)"), first(r"^Cipher mode:\s*(\S+)")
        bits = first(r"^MK bits:\s*(\d+)")
        return LuksHeader(
            1,
            uuid,
            f"{name}-{mode}" if name and mode else name,
            int(bits) if bits else None,
            first(r"^Hash spec:\s*(\S+)"),
            None,
        )
    keyslots = text.split("Keyslots:", 1)[1] if "Keyslots:" in text else ""
    digests = text.split("Digests:", 1)[1] if "Digests:" in text else ""
    bits = first(r"^\s*Cipher key:\s*(\d+) bits", keyslots)
    return LuksHeader(
        version=2,
        uuid=uuid,
        cipher=first(r"^\s*cipher:\s*(\S+)"),
        key_bits=int(bits) if bits else None,
        hash=first(r"^\s*Hash:\s*(\S+)", digests) or first(r"^\s*Hash:\s*(\S+)", keyslots),
        pbkdf=first(r"^\s*PBKDF:\s*(\S+)", keyslots),
    )


@dataclass(frozen=True)
class CrypttabEntry:
    name: str
    source: str
    keyfile: str | None


def parse_crypttab(text: str) -> tuple[CrypttabEntry, ...]:
    """crypttab(5): `name device [keyfile [options]]`; `none` or `-` means no key file."""
    entries: list[CrypttabEntry] = []
    for line in text.splitlines():
        words = line.split()
        if len(words) < 2 or words[0].startswith("#"):
            continue
        key = words[2] if len(words) > 2 and words[2] not in ("none", "-") else None
        entries.append(CrypttabEntry(words[0], words[1], key))
    return tuple(entries)
