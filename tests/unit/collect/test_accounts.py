"""CLONE_USERS and CLONE_GROUPS: the host's entries (through NSS) in the rescue system's /etc/passwd and /etc/group,
users with their primary group, unknown names skipped, the skeleton's own entries kept, no password."""

from __future__ import annotations

import grp
import json
import pwd

from rearbuild.build.compose import cloned_accounts
from rearbuild.build.cpio import Entry
from rearbuild.build.rootfs import Rootfs
from rearbuild.collect.accounts import clone_accounts, merged
from rearbuild.manifest import FORMAT, FORMAT_VERSION, Manifest

# Users and groups of every Debian system (base-passwd): backup (uid 34, group backup), tape (gid 26).
USER, GROUP = "backup", "tape"


def test_users_come_with_their_primary_group_and_groups_as_the_host_has_them() -> None:
    accounts = clone_accounts([USER, "no-such-user-here", USER], [GROUP, "no-such-group-here"])
    u, g = pwd.getpwnam(USER), grp.getgrnam(GROUP)
    primary = grp.getgrgid(u.pw_gid)
    assert accounts.passwd == (f"{USER}:x:{u.pw_uid}:{u.pw_gid}:{u.pw_gecos}:{u.pw_dir}:{u.pw_shell}",)
    assert accounts.group == (
        f"{primary.gr_name}:x:{primary.gr_gid}:{','.join(primary.gr_mem)}",
        f"{GROUP}:x:{g.gr_gid}:{','.join(g.gr_mem)}",
    )


def test_the_skeletons_entries_win_and_the_rest_is_appended() -> None:
    skeleton = b"root:x:0:0:root:/root:/bin/bash\nbackup:x:9:9::/:/bin/false"
    assert merged(skeleton, ["backup:x:34:34:backup:/var/backups:/usr/sbin/nologin", "alice:x:1000:1000::/h:/bin/sh"]) \
        == skeleton + b"\nalice:x:1000:1000::/h:/bin/sh\n"  # fmt: skip


def test_the_image_gets_the_manifests_accounts() -> None:
    rootfs = Rootfs.empty()
    rootfs.extend([Entry.from_bytes("etc/passwd", b"root:x:0:0:root:/root:/bin/bash\n"),
                   Entry.from_bytes("etc/group", b"root:x:0:\n")])  # fmt: skip
    accounts = clone_accounts([USER], [GROUP]).to_json()
    manifest = Manifest.loads(_manifest_json(accounts))
    rootfs.extend(cloned_accounts(rootfs, manifest.accounts))
    passwd = rootfs.entries["etc/passwd"].data or b""
    group = rootfs.entries["etc/group"].data or b""
    assert passwd.decode().splitlines()[1].startswith(f"{USER}:x:{pwd.getpwnam(USER).pw_uid}:")
    assert f"\n{GROUP}:x:{grp.getgrnam(GROUP).gr_gid}:" in group.decode()


def _manifest_json(accounts: dict[str, list[str]]) -> str:
    """A minimal manifest carrying the accounts through its JSON form, as a bundle carries it to a build."""
    return json.dumps({"format": FORMAT, "version": FORMAT_VERSION, "tool_version": "t", "facts": {}, "config": {},
                       "kernel": {"version": "6", "file": "/boot/k"}, "modules_load": [], "layout": "",
                       "network": {}, "missing": {}, "accounts": accounts, "files": []})  # fmt: skip
