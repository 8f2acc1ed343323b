"""CLONE_USERS and CLONE_GROUPS: the host's entries for them, recorded for the rescue system's /etc/passwd and
/etc/group (ReaR: rescue/default/900_clone_users_and_groups.sh; the work is rearbuild.collect.accounts)."""

from __future__ import annotations

from rearbuild.collect.accounts import clone_accounts
from rearbuild.context import Context


def main(ctx: Context) -> None:
    ctx.state.accounts = clone_accounts(ctx.items("CLONE_USERS"), ctx.items("CLONE_GROUPS")).to_json()
