"""ReaR's CLONE_USERS and CLONE_GROUPS: users and groups of the host copied into the rescue system's /etc/passwd and
/etc/group (ReaR: rescue/default/900_clone_users_and_groups.sh).

ReaR's rules: names only (no numeric IDs); a name the host does not know is skipped (logged); a user comes with
its primary group; an entry the rescue system has already (root, daemon, ...) is kept as the skeleton has it.
The entries are looked up through NSS (getent's view, so LDAP users work too) when the image is collected, and
recorded in the manifest, so that a build elsewhere puts the same lines in. Passwords never travel: the passwd
entry's password field is ReaR's "x" (shadow); no shadow hash is copied.
"""

from __future__ import annotations

import grp
import logging
import pwd
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

log = logging.getLogger("rearbuild.collect.accounts")


@dataclass(frozen=True)
class Accounts:
    passwd: tuple[str, ...] = ()  # /etc/passwd lines (name:x:uid:gid:gecos:home:shell)
    group: tuple[str, ...] = ()  # /etc/group lines (name:x:gid:members)

    def to_json(self) -> dict[str, list[str]]:
        return {"passwd": list(self.passwd), "group": list(self.group)}


def _user(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def _group_by_name(name: str) -> grp.struct_group | None:
    try:
        return grp.getgrnam(name)
    except KeyError:
        return None


def _group_by_id(gid: int) -> grp.struct_group | None:
    try:
        return grp.getgrgid(gid)
    except KeyError:
        return None


def clone_accounts(
    users: Sequence[str],
    groups: Sequence[str],
    *,
    user: Callable[[str], pwd.struct_passwd | None] = _user,
    group_by_name: Callable[[str], grp.struct_group | None] = _group_by_name,
    group_by_id: Callable[[int], grp.struct_group | None] = _group_by_id,
) -> Accounts:
    """The passwd and group lines of CLONE_USERS (with their primary groups) and CLONE_GROUPS."""
    passwd: list[str] = []
    wanted_groups: list[grp.struct_group] = []
    for name in dict.fromkeys(u for u in users if u):
        entry = user(name)
        if entry is None:
            log.warning("CLONE_USERS: there is no user %s on this host; not cloned", name)
            continue
        primary = group_by_id(entry.pw_gid)
        if primary is None:  # ReaR skips such a user: its files would belong to a group nobody names
            log.warning("CLONE_USERS: the group %d of user %s does not exist; not cloned", entry.pw_gid, name)
            continue
        passwd.append(":".join((entry.pw_name, "x", str(entry.pw_uid), str(entry.pw_gid), entry.pw_gecos,
                                entry.pw_dir, entry.pw_shell)))  # fmt: skip
        wanted_groups.append(primary)
    for name in dict.fromkeys(g for g in groups if g):
        found = group_by_name(name)
        if found is None:
            log.warning("CLONE_GROUPS: there is no group %s on this host; not cloned", name)
            continue
        wanted_groups.append(found)
    lines = {g.gr_name: ":".join((g.gr_name, "x", str(g.gr_gid), ",".join(g.gr_mem))) for g in wanted_groups}
    return Accounts(tuple(passwd), tuple(lines.values()))


def merged(skeleton: bytes, lines: Iterable[str]) -> bytes:
    """The skeleton's passwd or group file with the cloned lines appended, except names it has already."""
    text = skeleton.decode()
    known = {line.split(":", 1)[0] for line in text.splitlines() if line}
    extra = [line for line in lines if line.split(":", 1)[0] not in known]
    if not extra:
        return skeleton
    head = text if text.endswith("\n") or not text else text + "\n"
    return (head + "".join(f"{x}\n" for x in extra)).encode()
