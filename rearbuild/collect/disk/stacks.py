"""Capture of the storage stacks on the disks: MD RAID arrays, LUKS mappings, LVM (PVs, VGs, LVs)."""

from __future__ import annotations

import logging

from rearbuild.collect.disk import blockfacts as bf
from rearbuild.collect.disk import stackfacts as sf
from rearbuild.collect.disk.facts import Facts
from rearbuild.layout.model import Crypt, Entry, Item, LuksType, LvmDev, LvmGrp, LvmVol, Note, RaidArray

log = logging.getLogger("rearbuild.collect.disk.stacks")

# 512-byte sectors: lvmdev's size field, `pvdisplay -c` field 3 (see LvmDev).
_SECTOR = 512
_KIB = 1024


def raid_arrays(facts: Facts) -> list[Item]:
    items: list[Item] = []
    for dev in facts.of_kind(bf.DevKind.MD):
        text = facts.probe.command(sf.mdadm_argv(dev.name))
        detail = sf.parse_mdadm_detail(text, dev.name) if text is not None else None
        if detail is None:
            parents = facts.parents(dev.name)
            log.warning("mdadm --detail %s failed; the array is described from lsblk only", dev.name)
            # lsblk's TYPE of an md device is its level (lsblk(8)).
            items.append(Entry(RaidArray(dev.name, "raid1" if not parents else "unknown", len(parents), parents)))
            continue
        items.append(
            Entry(
                RaidArray(
                    dev.name,
                    detail.level,
                    detail.raid_devices,
                    tuple(facts.name(m) for m in detail.members),
                    name=detail.name,
                    metadata=detail.metadata,
                    uuid=detail.uuid,
                    layout=detail.layout,
                    chunk=detail.chunk,
                    spare_devices=len(detail.spares) or None,
                )
            )
        )
    return items


def crypt_mappings(facts: Facts) -> list[Item]:
    items: list[Item] = []
    crypttab_text = facts.probe.read(sf.CRYPTTAB)
    crypttab = sf.parse_crypttab(crypttab_text) if crypttab_text is not None else ()
    for dev in facts.of_kind(bf.DevKind.CRYPT):
        parents = facts.parents(dev.name)
        if len(parents) != 1:
            log.warning("cannot tell which device %s is opened from", dev.name)
            continue
        source = parents[0]
        text = facts.probe.command(sf.luksdump_argv(source))
        header = sf.parse_luksdump(text) if text is not None else None
        if header is None:
            log.warning("%s is not a LUKS device (or cryptsetup failed); it is not in the layout", source)
            continue
        mapping = dev.name.removeprefix("/dev/mapper/")
        keyfile = next(
            (
                e.keyfile
                for e in crypttab
                if e.name == mapping or e.source in (source, f"UUID={header.uuid}", f"/dev/disk/by-uuid/{header.uuid}")
            ),
            None,
        )
        items.append(
            Entry(
                Crypt(
                    dev.name if dev.name.startswith("/dev/mapper/") else f"/dev/mapper/{mapping}",
                    source,
                    type=LuksType.LUKS1 if header.version == 1 else LuksType.LUKS2,
                    cipher=header.cipher,
                    key_size=header.key_bits,
                    hash=header.hash,
                    uuid=header.uuid,
                    pbkdf=header.pbkdf if header.version == 2 else None,
                    keyfile=keyfile,
                )
            )
        )
    return items


def lvm_volumes(facts: Facts) -> list[Item]:
    pvs_text = facts.probe.command(sf.LVM_PVS)
    if pvs_text is None:
        return []
    pvs = sf.parse_pvs(pvs_text)
    if not pvs:
        return []
    vgs_text = facts.probe.command(sf.LVM_VGS)
    lvs_text = facts.probe.command(sf.LVM_LVS)
    vgs = sf.parse_vgs(vgs_text) if vgs_text is not None else ()
    segments = sf.parse_lvs(lvs_text) if lvs_text is not None else ()
    items: list[Item] = []
    for pv in pvs:
        if not pv.vg:
            # ReaR writes PVs of no VG as comments only (#2596): nothing to recreate.
            log.info("%s is an LVM PV in no volume group; left out", pv.device)
            continue
        items.append(Entry(LvmDev(f"/dev/{pv.vg}", facts.name(pv.device), pv.uuid, pv.size // _SECTOR)))
    for vg in vgs:
        items.append(Entry(LvmGrp(f"/dev/{vg.name}", vg.extent_size // _KIB, vg.extent_count, vg.size // _KIB)))
    by_lv: dict[tuple[str, str], list[sf.LvSegment]] = {}
    for seg in segments:
        by_lv.setdefault((seg.vg, seg.lv), []).append(seg)
    for (vg_name, lv), segs in by_lv.items():
        items += _lvmvol(vg_name, lv, segs)
    return items


def _lvmvol(vg: str, lv: str, segs: list[sf.LvSegment]) -> list[Item]:
    first = segs[0]
    layout = tuple(w for w in first.layout.split(",") if w) or ("linear",)
    items: list[Item] = []
    if len(segs) > 1:
        items.append(Note(f"# Volume /dev/{vg}/{lv} has {len(segs)} segments; it is recreated with one."))
    record = LvmVol(f"/dev/{vg}", lv, first.size, layout)
    segtype = first.segtype
    if record.is_thin_pool:
        record = LvmVol(
            record.vg,
            lv,
            first.size,
            layout,
            poolmetadatasize=first.metadata_size or None,
            chunksize=first.chunk_size or None,
        )
    elif record.is_thin_volume:
        record = LvmVol(record.vg, lv, first.size, layout, thinpool=first.pool)
    elif segtype == "striped" and first.stripes > 1:
        record = LvmVol(record.vg, lv, first.size, layout, stripesize=first.stripe_size, stripes=first.stripes)
    elif segtype in ("raid1", "mirror"):
        # stripes counts the images of a mirror; lvcreate -m counts the extra copies (lvcreate(8)).
        record = LvmVol(record.vg, lv, first.size, layout, mirrors=max(first.stripes - 1, 1))
    elif segtype.startswith("raid") and first.data_stripes > 1:
        record = LvmVol(record.vg, lv, first.size, layout, stripesize=first.stripe_size, stripes=first.data_stripes)
    # Snapshots and caches are not recreated (ReaR writes them as comments).
    excluded = (first.origin is not None and not record.is_thin_volume) or "cache" in layout
    items.append(Entry(record, excluded))
    return items
