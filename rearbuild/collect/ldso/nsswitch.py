"""The NSS services glibc will dlopen(), read from /etc/nsswitch.conf."""

from __future__ import annotations

from rearbuild.collect.ldso.tree import Tree

# nsswitch.conf(5): without the file, glibc uses "files" (and "dns" for hosts).
_NSS_DEFAULT_SERVICES = ("files", "dns")


def nss_services(tree: Tree) -> tuple[str, ...]:
    """NSS service names in /etc/nsswitch.conf of the tree, in first-use order (actions [..] skipped)."""
    text = tree.read_text("/etc/nsswitch.conf")
    if text is None:
        return _NSS_DEFAULT_SERVICES
    services: dict[str, None] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        _db, sep, spec = line.partition(":")
        if not sep:
            continue
        in_action = False
        for word in spec.split():
            if word.startswith("["):
                in_action = True
            if not in_action:
                services.setdefault(word, None)
            if word.endswith("]"):
                in_action = False
    return tuple(services)
