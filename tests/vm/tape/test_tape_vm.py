"""Tape end to end on a real tape interface (tests/vm/tape/conftest.py: tgt's virtual SSC drives over iSCSI,
/dev/nst0 and /dev/nst1 in the guest). One boot of the rescue system:

- `rear format /dev/nst0` labels the tape (OUTPUT=OBDR); a backup to an unlabelled tape is refused first;
- the OBDR layout is written (rearbuild.output.obdr.write_obdr, what OUTPUT=OBDR's output stage runs) with the
  rescue ISO; NETFS's make_backup (what `mkbackup`'s backup stage runs) puts the archive after it (tape file 3);
  `rear restoreonly --demo`
  checks the label and the archive's head and restores it: the files are identical; a wrong compression
  setting is refused before anything is written;
- a plain tape (BACKUP_URL=tape:///dev/nst1, fixed 512-byte blocks) is backed up and restored the same way;
- the ISO is read back from the tape through the drive (mt fsf 1; dd bs=2048) onto a scratch disk, which then
  boots in a second guest."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest

from tests.vm.qemu import Guest, cdrom, qemu
from tests.vm.tape.conftest import TapeImage, TapeTarget

pytestmark = [
    pytest.mark.slow,
    pytest.mark.vm,
    pytest.mark.skipif(os.geteuid() != 0, reason="tgtd needs root"),
]

SOURCE = "/var/tmp/src"
# One line per path (type and mode, size, mtime, links, target) and the content digests, in the guest
LISTING = ("cd {d} && find . | sort | while read -r p; do stat -c '%n %f %s %Y %h %N' \"$p\"; done "
           "&& find . -type f | sort | xargs sha256sum")  # fmt: skip
MAKE_TREE = (f"mkdir -p {SOURCE}/d/e && head -c 3000000 /dev/urandom > {SOURCE}/big && echo hello > {SOURCE}/d/a "
             f"&& chmod 0640 {SOURCE}/d/a && ln -s d/a {SOURCE}/link && ln {SOURCE}/big {SOURCE}/hard "
             f"&& : > {SOURCE}/d/e/empty && touch -d '2001-02-03 04:05' {SOURCE}/d/a")  # fmt: skip


def _conf(name: str, text: str) -> str:
    body = text.replace("\n", "\\n")
    return f"printf '{body}' > /tmp/{name}.conf"


OBDR = f"OUTPUT=OBDR\nTAPE_DEVICE=/dev/nst0\nBACKUP_URL=\nBACKUP_ONLY_INCLUDE=y\nBACKUP_PROG_INCLUDE=( {SOURCE} )\n"
PLAIN = f"BACKUP_URL=tape:///dev/st1\nTAPE_BLOCKSIZE=512\nBACKUP_ONLY_INCLUDE=y\nBACKUP_PROG_INCLUDE=( {SOURCE} )\n"
# What the host's `rear mkbackup` with OUTPUT=OBDR runs, run in the rescue system through rearbuild's library
# (the rescue system's own disk layout has no root file system, so its mkbackuponly stops in layout/save):
# `obdr` writes the OBDR layout with the booted rescue ISO (/dev/sr0), `backup CONF` NETFS's make_backup.
DRIVER = """
import sys
sys.path.insert(0, "/usr/share/rear/rearbuild.pyz")
from pathlib import Path
from rearbuild.backup.netfs import KeyNeed, Places, make_backup, settings
from rearbuild.config.loader import LoadRequest, load
from rearbuild.facts import detect
from rearbuild.output import obdr
from rearbuild.paths import Paths

paths = Paths.resolve(share_dir="/usr/share/rear", tmpdir="/tmp")
request = LoadRequest(paths=paths, workflow="mkbackup", facts=detect(), readonly={}, presets={"HOSTNAME": "rescue"},
                      extra_files=tuple(sys.argv[2:]))
config = load(request)[0]
if sys.argv[1] == "obdr":
    obdr.write_obdr(obdr.settings(config), Path("/dev/sr0"))
else:
    work = Path("/tmp/tape-work")
    make_backup(settings(config, key=KeyNeed.CONFIGURED), Places(work, work / "mnt", work / "recovery"), None)
print("DRIVER-DONE")
"""
_DECODE = 'import base64, sys; open("/tmp/driver.py", "wb").write(base64.b64decode(sys.argv[1]))'
INSTALL_DRIVER = f"python3 -c '{_DECODE}' {base64.b64encode(DRIVER.encode()).decode()}"


def _ok(guest: Guest, command: str, timeout: float = 120) -> str:
    status, output = guest.shell(command, timeout=timeout)
    assert status == 0, f"{command}:\n{output}"
    return output


def test_backup_to_tape_restores_and_the_iso_boots_from_it(
    tape_target: TapeTarget, tape_rescue_image: TapeImage, tmp_path: Path
) -> None:
    iso = tape_rescue_image.iso
    scratch = tmp_path / "readback.img"
    with open(scratch, "wb") as f:
        f.truncate(iso.stat().st_size + (4 << 20))
    argv = qemu(*cdrom(iso), *tape_target.qemu_args(), "-drive", f"file={scratch},if=virtio,format=raw")
    guest = Guest(argv, tmp_path / "console.log")
    try:
        guest.wait_for("rearbuild rescue system ready", 300)
        guest.wait_for(r"RESCUE [^\n]*# ", 60)
        # the st driver came up from the image's MODULES_LOAD, mt is there, the cartridges are loaded
        assert "ONLINE" in _ok(guest, "ls -l /dev/nst0 /dev/nst1 && mt -f /dev/nst0 status")
        _ok(guest, f"{_conf('obdr', OBDR)} && {_conf('plain', PLAIN)} && {_conf('xz', 'BACKUP_PROG_COMPRESS=xz')}")
        _ok(guest, MAKE_TREE)
        expected = _ok(guest, LISTING.format(d=SOURCE))

        # a backup to a tape nobody labelled is refused, pointing at format
        _ok(guest, INSTALL_DRIVER)
        status, output = guest.shell("python3 /tmp/driver.py backup /tmp/obdr.conf 2>&1", timeout=120)
        assert status == 1 and "not labelled REAR-000" in output and "rearbuild format /dev/nst0" in output, output

        assert "labelled REAR-000" in _ok(guest, "rear -n -C /tmp/obdr.conf format /dev/nst0 2>&1")
        assert "DRIVER-DONE" in _ok(guest, "python3 /tmp/driver.py obdr /tmp/obdr.conf 2>&1", timeout=300)
        assert "DRIVER-DONE" in _ok(guest, "python3 /tmp/driver.py backup /tmp/obdr.conf 2>&1", timeout=300)
        # the layout as ReaR reads it: the label in the first 512-byte record, the ISO as file 1, file 2 empty
        label = _ok(guest, "mt -f /dev/nst0 rewind && mt -f /dev/nst0 setblk 512 && "
                           "dd if=/dev/nst0 bs=512 count=1 2>/dev/null | head -c 8; echo")  # fmt: skip
        assert label.strip() == "REAR-000"
        assert _ok(guest, "mt -f /dev/nst0 rewind && mt -f /dev/nst0 setblk 0 && mt -f /dev/nst0 fsf 2 && "
                          "dd if=/dev/nst0 bs=1M 2>/dev/null | wc -c").strip() == "0"  # fmt: skip

        # verify refuses a wrong compression setting before anything is written
        status, output = guest.shell("rear -n -C /tmp/obdr.conf -C /tmp/xz.conf restoreonly --demo /var/tmp/wrong 2>&1")
        assert status == 1 and "does not read as a tar archive" in output, output
        assert _ok(guest, "ls -A /var/tmp/wrong 2>/dev/null | wc -l").strip() == "0"

        output = _ok(guest, "rear -n -C /tmp/obdr.conf restoreonly --demo /var/tmp/r1 2>&1", timeout=300)
        assert "tape /dev/nst0 file 3 (" in output and "matches its sha256" in output, output
        assert "restoreonly finished" in output, output
        assert _ok(guest, LISTING.format(d=f"/var/tmp/r1{SOURCE}")) == expected

        # a plain tape, fixed 512-byte blocks, the archive is tape file 0
        assert "DRIVER-DONE" in _ok(guest, "python3 /tmp/driver.py backup /tmp/plain.conf 2>&1", timeout=300)
        output = _ok(guest, "rear -n -C /tmp/plain.conf restoreonly --demo /var/tmp/r2 2>&1", timeout=300)
        assert "tape /dev/nst1 file 0 (" in output and "matches its sha256" in output, output
        assert _ok(guest, LISTING.format(d=f"/var/tmp/r2{SOURCE}")) == expected

        # the ISO back from the tape, through the drive: file 1 in 2048-byte records
        # (fixed 2048-byte blocks, read 1 MiB = 512 blocks per SCSI command)
        _ok(guest, "mt -f /dev/nst0 rewind && mt -f /dev/nst0 setblk 2048 && mt -f /dev/nst0 fsf 1 && "
                   "dd if=/dev/nst0 of=/dev/vda bs=1M 2>&1 && sync", timeout=300)  # fmt: skip
    finally:
        guest.close()

    size = iso.stat().st_size
    with open(scratch, "rb") as f:
        readback = f.read(size)
    assert hashlib.sha256(readback).hexdigest() == hashlib.sha256(iso.read_bytes()).hexdigest()
    from_tape = tmp_path / "from-tape.iso"
    from_tape.write_bytes(readback)
    second = Guest(qemu(*cdrom(from_tape)), tmp_path / "console-from-tape.log")
    try:
        second.wait_for("rearbuild rescue system ready", 300)
    finally:
        second.close()
