"""`rearbuild dump`: the detected facts and every effective variable with the file that set it last.

The output is stable (sorted) and valid bash for the values, so it can be diffed between hosts or runs.
Secret values are masked unless -e.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

from rearbuild import __version__
from rearbuild.backup.methods import payload_of
from rearbuild.backup.vendor import describe
from rearbuild.config.bashstate import Value, bash_assignment
from rearbuild.config.model import is_secret
from rearbuild.context import Context
from rearbuild.errors import UserError


def _origin(ctx: Context, origin: str) -> str:
    share = str(ctx.paths.share_dir) + "/"
    return "$SHARE_DIR/" + origin[len(share) :] if origin.startswith(share) else origin


def lines(ctx: Context) -> Iterator[str]:
    yield f"# rearbuild {__version__} dump of {ctx.facts.hostname}"
    yield "# Facts"
    for name, fact in sorted(ctx.facts.variables().items()):
        yield f"#   {name:<32} {fact}"
    yield f"#   {'RECOVERY_MODE':<32} {'yes' if ctx.recovery_mode else 'no'}"
    yield "# Configuration files read, in order:"
    for path in ctx.config.files:
        yield f"#   {_origin(ctx, path)}"
    yield "# Variables (value  # set last by)"
    settings = sorted(ctx.config, key=lambda s: s.name)
    width = min(48, max((len(bash_assignment(s.name, s.value)) for s in settings), default=0))
    for setting in settings:
        value: Value = setting.value
        if is_secret(setting.name) and value not in ("", ()) and not ctx.options.expose_secrets:
            value = "***"
        text = bash_assignment(setting.name, value)
        yield f"{text:<{width}}  # {_origin(ctx, setting.origin)}"
    try:
        payload = payload_of(ctx.settings)
    except UserError as exc:  # dump shows a configuration, also one a backup would refuse
        yield f"# Backup method payload: not known ({exc.message})"
        return
    if payload is not None:
        yield "# Backup method payload (what BACKUP adds to the rescue image, sizes on this host)"
        for line in describe(payload):
            yield f"#   {line}"


def dump(ctx: Context) -> None:
    # Values keep the bytes bash gave them (surrogateescape): written back as those bytes, the output stays bash
    # that reproduces each value, and a non-UTF-8 byte is not an encoding error.
    text = "\n".join(lines(ctx)) + "\n"
    sys.stdout.flush()
    sys.stdout.buffer.write(text.encode("utf-8", "surrogateescape"))
    sys.stdout.buffer.flush()
