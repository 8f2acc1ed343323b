"""Creates the test files of the source system below the given root: content, owners, modes (setuid too), a user
xattr, a POSIX ACL, hardlinks, a symlink and a sparse file on each of its file systems."""

import os
import struct
import sys

# A POSIX ACL as the kernel stores it in system.posix_acl_access (include/uapi/linux/posix_acl_xattr.h):
# a u32 version (2), then entries of (u16 tag, u16 perm, u32 id). Tags: USER_OBJ 1, USER 2, GROUP_OBJ 4,
# MASK 0x10, OTHER 0x20; 0xffffffff is "no id".
NO_ID = 0xFFFFFFFF
ACL = struct.pack("<I", 2) + b"".join(
    struct.pack("<HHI", tag, perm, ident)
    for tag, perm, ident in ((1, 6, NO_ID), (2, 4, 1234), (4, 4, NO_ID), (0x10, 6, NO_ID), (0x20, 4, NO_ID))
)


def files(base, seed):
    os.makedirs(base, exist_ok=True)
    data = os.path.join(base, "data.bin")
    with open(data, "wb") as f:
        f.write(bytes((i * seed + i // 7) % 251 for i in range(300_000)))
    os.setxattr(data, "user.comment", b"restored with rearbuild")
    os.link(data, os.path.join(base, "hardlink.bin"))
    os.symlink("data.bin", os.path.join(base, "link-to-data"))
    secret = os.path.join(base, "secret.txt")
    with open(secret, "w") as f:
        f.write("owned by 1234:5678, mode 0600\n")
    os.chown(secret, 1234, 5678)
    os.chmod(secret, 0o600)
    tool = os.path.join(base, "setuid-tool")
    with open(tool, "wb") as f:
        f.write(b"#!/bin/sh\necho hi\n")
    os.chmod(tool, 0o4755)
    acl = os.path.join(base, "acl.txt")
    with open(acl, "w") as f:
        f.write("readable by user 1234 through an ACL\n")
    os.setxattr(acl, "system.posix_acl_access", ACL)
    sparse = os.path.join(base, "sparse.img")
    with open(sparse, "wb") as f:
        f.truncate(64 << 20)
        f.seek(32 << 20)
        f.write(b"middle")
    os.utime(data, (1_600_000_000, 1_600_000_000))


root = sys.argv[1]
for number, relative in enumerate(("home/user", "srv/data", "boot/testdata", "boot/efi/testdata"), 1):
    if relative.startswith("boot/efi"):
        # vfat: no owners, xattrs or links; content and names only
        os.makedirs(os.path.join(root, relative), exist_ok=True)
        with open(os.path.join(root, relative, "grubenv.txt"), "w") as f:
            f.write("vfat content\n")
        continue
    files(os.path.join(root, relative), number)
print("FILES-MADE")
