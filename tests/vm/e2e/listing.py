"""Prints what a user would compare after a recovery, as JSON: for every path below the given roots its type,
mode, owner, size, mtime, content hash, symlink target, hardlink group, sparseness, and every extended attribute
(user xattrs and POSIX ACLs, which are the system.posix_acl_* xattrs). Runs with the rescue system's python3."""

import hashlib
import json
import os
import stat
import sys


def describe(path, links):
    st = os.lstat(path)
    entry = {"mode": oct(st.st_mode), "uid": st.st_uid, "gid": st.st_gid}
    if stat.S_ISLNK(st.st_mode):
        entry["target"] = os.readlink(path)
        return entry
    entry["mtime"] = int(st.st_mtime)
    if stat.S_ISREG(st.st_mode):
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        entry["sha256"] = digest.hexdigest()
        entry["size"] = st.st_size
        # allocated much less than the size: holes survived
        entry["sparse"] = st.st_blocks * 512 < st.st_size // 2
        if st.st_nlink > 1:
            entry["hardlink_group"] = links.setdefault((st.st_dev, st.st_ino), len(links))
    xattrs = {}
    for name in sorted(os.listxattr(path, follow_symlinks=False)):
        if name.startswith("security.selinux"):
            continue
        xattrs[name] = os.getxattr(path, name, follow_symlinks=False).hex()
    if xattrs:
        entry["xattrs"] = xattrs
    return entry


def main(roots):
    links = {}
    result = {}
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            linked_dirs = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
            for name in [dirpath] + [os.path.join(dirpath, n) for n in sorted(filenames + linked_dirs)]:
                result[name] = describe(name, links)
    print("LISTING-BEGIN" + json.dumps(result, sort_keys=True) + "LISTING-END")


main(sys.argv[1:])
