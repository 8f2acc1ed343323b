"""BACKUP_URL=iso:// end to end: `rearbuild mkbackup` puts the archive into the rescue ISO; the ISO boots in
QEMU, the rescue system finds itself by its volume label, checks the archive and restores it with
`rear restoreonly` into an ext4 file system mounted at /mnt/local on a virtio disk. The restored tree is listed
inside the guest by a script that travelled in the backup and compared with the same listing of the source."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rearbuild.facts import short_hostname
from tests.integration.test_netfs_roundtrip import make_tree
from tests.vm.qemu import Guest, cdrom, qemu

pytestmark = [
    pytest.mark.slow,
    pytest.mark.vm,
    pytest.mark.skipif(os.geteuid() != 0, reason="owners and ACLs of other users need root"),
]

# Prints one line per path: type+mode, owner, size, allocated blocks of sparse files, content digest, link
# target, xattrs (ACLs are system.posix_acl_*), and the hard-link groups. Runs on the host and in the guest.
LISTING = r"""
import hashlib, os, stat, sys
root = sys.argv[1]
inodes = {}
for d, dirs, files in sorted(os.walk(root)):
    for n in sorted(dirs + files):
        p = os.path.join(d, n); r = os.path.relpath(p, root); st = os.lstat(p)
        x = "" if stat.S_ISLNK(st.st_mode) else ",".join(
            f"{a}={os.getxattr(p, a).hex()}" for a in sorted(os.listxattr(p)))
        digest = link = ""
        if stat.S_ISREG(st.st_mode):
            digest = hashlib.sha256(open(p, "rb").read()).hexdigest()[:16]
            inodes.setdefault(st.st_ino, []).append(r)
        if stat.S_ISLNK(st.st_mode):
            link = os.readlink(p)
        sparse = "sparse" if stat.S_ISREG(st.st_mode) and st.st_blocks * 512 < st.st_size // 2 else ""
        # a directory's size and mtime depend on the file system and on the restore itself
        size, mtime = ("", "") if stat.S_ISDIR(st.st_mode) else (st.st_size, int(st.st_mtime))
        print(r, oct(st.st_mode), st.st_uid, st.st_gid, size, mtime, digest, link, sparse, x)
for names in sorted(inodes.values()):
    if len(names) > 1:
        print("hardlinks", *sorted(names))
print("LISTING-DONE")
"""


def test_backup_inside_the_iso_restores_in_the_rescue_system(tmp_path: Path) -> None:
    tree = Path("/var/tmp") / f"rearbuild-netfs-vm-{os.getpid()}"  # not below /tmp: the rescue's /tmp differs
    subprocess.run(["rm", "-rf", str(tree)], check=True)
    make_tree(tree)
    (tree / "listing.py").write_text(LISTING)
    try:
        etc = tmp_path / "etc"
        etc.mkdir()
        out = tmp_path / "out"
        (etc / "local.conf").write_text(
            f"OUTPUT=ISO\nOUTPUT_URL=file://{out}\nISO_DEFAULT=manual\nISO_SYSLINUX_TIMEOUT=10\n"
            f"BACKUP=NETFS\nBACKUP_URL=iso:///backup\nBACKUP_ONLY_INCLUDE=y\nBACKUP_PROG_INCLUDE=( '{tree}' )\n"
            "BACKUP_PROG_COMPRESS=zstd\n"
        )
        argv = [sys.executable, "-m", "rearbuild", "-c", str(etc), "--var-dir", str(tmp_path / "var"),
                "--log-dir", str(tmp_path / "log"), "--tmpdir", str(tmp_path / "tmp"), "mkbackup"]  # fmt: skip
        built = subprocess.run(argv, capture_output=True, text=True, timeout=900)
        assert built.returncode == 0, built.stderr[-4000:]
        host = short_hostname()
        iso = out / host / f"rear-{host}.iso"
        listing = subprocess.run(["xorriso", "-indev", str(iso), "-find", "/backup"], capture_output=True, text=True)
        assert "/backup/backup.tar.zst" in listing.stdout and "/backup/backup.tar.zst.sha256" in listing.stdout
        expected = subprocess.run(
            [sys.executable, str(tree / "listing.py"), str(tree)], capture_output=True, text=True, check=True
        ).stdout
    finally:
        subprocess.run(["rm", "-rf", str(tree)], check=False)

    disk = tmp_path / "target.img"
    with open(disk, "wb") as f:
        f.truncate(256 << 20)
    guest = Guest(qemu(*cdrom(iso), "-drive", f"file={disk},if=virtio,format=raw"), tmp_path / "console.log")
    try:
        guest.wait_for("rearbuild rescue system ready", 200)
        guest.wait_for(r"RESCUE [^\n]*# ", 30)
        status, output = guest.shell("mkfs.ext4 -q -F /dev/vda && mkdir -p /mnt/local && mount /dev/vda /mnt/local")
        assert status == 0, output
        status, output = guest.shell("rear -n restoreonly 2>&1", timeout=300)
        assert status == 0 and "is intact" in output and "restoreonly finished" in output, output
        status, mounts = guest.shell("cat /proc/mounts")
        assert "outputfs" not in mounts, "the ISO is unmounted after the restore"
        restored = f"/mnt/local{tree}"
        status, output = guest.shell(f"python3 {restored}/listing.py {restored}", timeout=120)
        assert status == 0 and "LISTING-DONE" in output, output
        assert output.strip().splitlines() == expected.strip().splitlines()
        status, output = guest.shell("ls /mnt/local/var/log/rear/")
        assert "recover" in output, "the recovery log went into the restored system"
    finally:
        guest.close()
