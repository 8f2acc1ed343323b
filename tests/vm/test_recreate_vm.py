"""Disk plans for LVM on RAID1 and for LUKS2 + LVM thin run in the real rescue system (one boot, blank virtio
disks): rendered on the host from the recorded raid1_lvm and luks_lvm layouts, mapped onto the guest's disks,
carried in on a small tar "disk" (typing kilobytes into a serial console is slow and lossy), run with bash
as recreate runs them, then checked from the guest's own tools: mdadm --detail, lvm, cryptsetup luksDump,
blkid and sfdisk must report the saved UUIDs, names and sizes. A second run must skip every step.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from pathlib import Path

import pytest

from rearbuild.build.generated import ZIPAPP_IN_IMAGE
from rearbuild.collect.disk.capture import capture
from rearbuild.collect.disk.probe import RecordedProbe
from rearbuild.layout.model import Crypt, Fs, LvmDev, LvmVol, Part, RaidArray
from rearbuild.recover.mapping import map_disks
from rearbuild.recover.plan import LVM_CONFIG, build_plan
from rearbuild.recover.planscript import render
from tests.vm.conftest import RescueImage
from tests.vm.qemu import Guest, cdrom, qemu

pytestmark = [pytest.mark.slow, pytest.mark.vm]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "capture"
READY = r"rearbuild rescue system ready"
GiB = 1024**3
# The unattended recovery's last act, run by the rescue system's Python from its rearbuild zipapp.
FINISH = f"""import logging, sys
logging.basicConfig(level=logging.INFO, format="%(message)s")
sys.path.insert(0, "/{ZIPAPP_IN_IMAGE}")
from pathlib import Path
from rearbuild.recover.finish import Finish
Finish.REBOOT.perform(Path("/mnt/raid"))
"""


def blank(path: Path, size: int) -> Path:
    with path.open("wb") as f:
        f.truncate(size)
    return path


def tar_disk(path: Path, files: dict[str, str]) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o700
            tar.addfile(info, io.BytesIO(data))
    raw = buffer.getvalue()
    path.write_bytes(raw + b"\0" * (-len(raw) % (1024 * 1024)))
    return path


def virtio(*images: Path) -> list[str]:
    return [w for image in images for w in ("-drive", f"file={image},if=virtio,format=raw")]


def ok(guest: Guest, command: str, timeout: float = 60) -> str:
    status, out = guest.shell(command, timeout)
    assert status == 0, f"{command}: status {status}\n{out}"
    return out


def test_raid1_lvm_and_luks2_lvm_thin_plans_in_the_rescue_system(rescue_image: RescueImage, tmp_path: Path) -> None:
    raid_layout = capture(RecordedProbe(FIXTURES / "raid1_lvm"))  # on vda + vdb, as recorded
    luks_layout = map_disks(capture(RecordedProbe(FIXTURES / "luks_lvm")), {"/dev/vda": "/dev/vdc"})
    raid_plan = build_plan(raid_layout, target_root="/mnt/raid")
    # The same layout again, now with the volume groups' metadata as savelayout keeps it (vgcfgbackup): taken in
    # the guest from what the first plan made, then restored onto the wiped disks by this plan.
    restore_plan = build_plan(raid_layout, target_root="/mnt/raid", lvm_metadata=lambda vg: f"/tmp/lvm/{vg}.cfg")
    luks_plan = build_plan(luks_layout, target_root="/mnt/luks", keyfile_exists=lambda _: True)
    done = Path("/var/lib/rear/recovery/plan-done")
    data = tar_disk(tmp_path / "plans.img", {"raid.sh": render(raid_plan, done), "luks.sh": render(luks_plan, done),
                                            "restore.sh": render(restore_plan, done), "finish.py": FINISH})  # fmt: skip
    disks = [blank(tmp_path / "a.img", GiB), blank(tmp_path / "b.img", GiB), blank(tmp_path / "c.img", 2 * GiB)]
    guest = Guest(qemu(*cdrom(rescue_image.iso), *virtio(*disks, data), memory=1536), tmp_path / "console.log")
    try:
        guest.wait_for(READY, 180)
        guest.wait_for(r"RESCUE [^\n]*# ", 30)
        ok(guest, "mkdir -p /tmp/plans && tar -xf /dev/vdd -C /tmp/plans && ls /tmp/plans")
        # The key file the recorded crypttab names, present in the rescue system (COPY_AS_IS in real life).
        ok(guest, "mkdir -p /etc/keys && head -c 64 /dev/urandom > /etc/keys/root.key")

        out = ok(guest, "bash /tmp/plans/raid.sh > /tmp/raid.log 2>&1; s=$?; tail -5 /tmp/raid.log; [ $s = 0 ]", 900)
        assert "=== all steps done" in out, out
        md = ok(guest, "mdadm --detail /dev/md0")
        raid = next(r for r in raid_layout.active if isinstance(r, RaidArray))
        assert re.search(rf"UUID : {raid.uuid}\b", md) and "Name : (none):root" in md and "Raid Level : raid1" in md
        assert "/dev/vda1" in md and "/dev/vdb1" in md
        pvs = ok(guest, "lvm pvs --noheadings -o pv_name,pv_uuid,vg_name")
        for pv in (r for r in raid_layout.active if isinstance(r, LvmDev)):
            assert re.search(rf"{pv.device}\s+{pv.uuid}\s+{pv.vg_name}", pvs), pvs
        vgs = ok(guest, "lvm vgs --noheadings --units k --nosuffix -o vg_name,vg_extent_size")
        assert re.search(r"vgdata\s+8192\.00", vgs) and re.search(r"vgsys\s+4096\.00", vgs), vgs
        lvs = ok(guest, "lvm lvs --noheadings --units b --nosuffix -o vg_name,lv_name,lv_size,stripes")
        assert re.search(r"vgdata\s+srv\s+268435456\s+2", lvs) and re.search(r"vgsys\s+root\s+419430400\s+1", lvs)
        for fs in (r for r in raid_layout.active if isinstance(r, Fs)):
            assert f'UUID="{fs.uuid}"' in ok(guest, f"blkid {fs.device}")
        table = json.loads(ok(guest, "sfdisk -J /dev/vdb"))["partitiontable"]
        assert table["id"].lower() == "27652dc4-a7e7-a346-a719-ae7cd229ae08"
        parts = [r for r in raid_layout.active if isinstance(r, Part) and r.disk == "/dev/vdb"]
        assert [p["uuid"].lower() for p in table["partitions"]] == [p.partuuid for p in parts]
        assert [p["start"] * 512 for p in table["partitions"]] == [p.start for p in parts]
        ok(guest, "findmnt -M /mnt/raid && findmnt -M /mnt/raid/srv")
        again = ok(guest, "bash /tmp/plans/raid.sh 2>&1 | grep -c '^=== skip'")
        assert int(again.strip().splitlines()[-1]) == len(raid_plan.steps)

        # Keep the volume groups' metadata, take everything down, wipe both disks, restore from the metadata:
        # the VG and LV UUIDs and every segment's place on the PVs come back (lvcreate would give new ones).
        lvm_report = f"lvm lvs --config '{LVM_CONFIG}' --segments --noheadings -o vg_uuid,lv_uuid,lv_name,seg_pe_ranges"
        ok(guest, f"mkdir -p /tmp/lvm && lvm vgcfgbackup --config '{LVM_CONFIG}' -f /tmp/lvm/%s.cfg vgsys vgdata")
        before = ok(guest, lvm_report)
        ok(guest, f"umount -R /mnt/raid && lvm vgchange --config '{LVM_CONFIG}' -an && mdadm --stop /dev/md0 && "
                  "wipefs -a /dev/vda2 /dev/vdb2 /dev/vda1 /dev/vdb1 /dev/vda /dev/vdb >/dev/null && "
                  f"rm -rf {done}")  # fmt: skip
        script = "bash /tmp/plans/restore.sh > /tmp/restore.log 2>&1; s=$?; tail -5 /tmp/restore.log; [ $s = 0 ]"
        out = ok(guest, script, 900)
        assert "=== all steps done" in out and "vgcfgrestore" in ok(guest, "cat /tmp/restore.log"), out
        assert ok(guest, lvm_report) == before
        ok(guest, "findmnt -M /mnt/raid && findmnt -M /mnt/raid/srv")

        out = ok(guest, "bash /tmp/plans/luks.sh > /tmp/luks.log 2>&1; s=$?; tail -5 /tmp/luks.log; [ $s = 0 ]", 900)
        assert "=== all steps done" in out, out
        crypt = next(r for r in luks_layout.active if isinstance(r, Crypt))
        dump = ok(guest, "cryptsetup luksDump /dev/vdc2")
        assert f"UUID:          \t{crypt.uuid}" in dump or re.search(rf"UUID:\s+{crypt.uuid}", dump), dump
        assert "Version:       \t2" in dump or re.search(r"Version:\s+2", dump)
        assert "aes-xts-plain64" in dump and "pbkdf2" in dump
        lvs = ok(guest, "lvm lvs --noheadings --units b --nosuffix -o lv_name,lv_size,pool_lv vgcrypt")
        for lv in (r for r in luks_layout.active if isinstance(r, LvmVol)):
            assert re.search(rf"\b{lv.name}\s+{lv.size}\b" + (rf"\s+{lv.thinpool}" if lv.thinpool else ""), lvs), lvs
        for fs in (r for r in luks_layout.active if isinstance(r, Fs)):
            assert f'UUID="{fs.uuid}"' in ok(guest, f"blkid {fs.device}")
        ok(guest, "findmnt -M /mnt/luks && findmnt -M /mnt/luks/boot && findmnt -M /mnt/luks/var")
        print(f"\nboth plans run and checked {guest.elapsed():.0f} s after power-on")

        # The unattended finish: writes still in flight, then the reboot the recovery does (QEMU runs with
        # -no-reboot, so the machine stops; it is started again on the same disks). Every array must come back
        # clean, with nothing to resync and the data intact.
        out = ok(guest, "dd if=/dev/urandom of=/mnt/raid/payload bs=1M count=48 status=none && "
                 "sha256sum /mnt/raid/payload", 120)  # fmt: skip
        digest = out.split()[0]
        ok(guest, "umount -R /mnt/luks")  # a recovery has one target: the finish releases what is under it
        guest.type("/usr/bin/python3 -I /tmp/plans/finish.py\n")
        guest.proc.wait(timeout=120)
        assert "unattended recovery finished: reboot" in guest.console
        assert "still active at the reboot" not in guest.console
        guest.close()
        guest = Guest(qemu(*cdrom(rescue_image.iso), *virtio(*disks, data), memory=1536), tmp_path / "again.log")
        guest.wait_for(READY, 180)
        guest.wait_for(r"RESCUE [^\n]*# ", 30)
        for member in ("/dev/vda1", "/dev/vdb1"):
            assert re.search(r"State : clean", ok(guest, f"mdadm --examine {member}")), member
        ok(guest, "mdadm --assemble /dev/md0 /dev/vda1 /dev/vdb1")
        assert "resync" not in ok(guest, "cat /proc/mdstat")
        assert ok(guest, "cat /sys/block/md0/md/sync_action").split()[-1] == "idle"
        ok(guest, f"lvm vgchange --config '{LVM_CONFIG}' -ay vgsys >/dev/null && mkdir -p /m && "
                  "mount /dev/vgsys/root /m")  # fmt: skip
        assert digest in ok(guest, "sha256sum /m/payload")
        print(f"rebooted clean and checked {guest.elapsed():.0f} s after power-on")
    finally:
        guest.close()
