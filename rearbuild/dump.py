"""`rearbuild dump`: the detected facts and every effective variable with the file that set it last, and for
the variables the user's files set, their state (conf/rear-variables.tsv); then the problems that would stop
mkrescue/mkbackup in prep (rearbuild.config.validate), on standard error, with a non-zero status.
`rearbuild dump VARIABLE...` (or `help VARIABLE...`): each variable's meaning, state and value.

The output is stable (sorted) and valid bash for the values, so it can be diffed between hosts or runs.
Secret values are masked unless -e.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

from rearbuild import __version__
from rearbuild.backup.methods import payload_of
from rearbuild.backup.vendor import describe
from rearbuild.config.bashstate import Value, bash_assignment
from rearbuild.config.model import Setting, is_secret
from rearbuild.config.validate import problems
from rearbuild.config.variables import State, documentation, table
from rearbuild.context import Context
from rearbuild.errors import UserError

log = logging.getLogger("rearbuild")


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
        text = _shown(ctx, setting)
        yield f"{text:<{width}}  # {_origin(ctx, setting.origin)}{_state(ctx, setting)}"
    try:
        payload = payload_of(ctx.settings)
    except UserError as exc:  # dump shows a configuration, also one a backup would refuse
        yield f"# Backup method payload: not known ({exc.message})"
        return
    if payload is not None:
        yield "# Backup method payload (what BACKUP adds to the rescue image, sizes on this host)"
        for line in describe(payload):
            yield f"#   {line}"


def _user_set(ctx: Context, setting: Setting) -> bool:
    return not setting.origin.startswith(str(ctx.paths.share_dir)) and not setting.origin.startswith("<")


def _state(ctx: Context, setting: Setting) -> str:
    """[state] for what the user's files set."""
    if not _user_set(ctx, setting):
        return ""
    entry = table().entry(setting.name, ctx.config.known | ctx.config.framework)
    return "" if entry.state is State.HONOURED else f"  [{entry.state.value}]"


def _shown(ctx: Context, setting: Setting) -> str:
    value: Value = setting.value
    if is_secret(setting.name) and value not in ("", ()) and not ctx.options.expose_secrets:
        value = "***"
    return bash_assignment(setting.name, value)


def explain(ctx: Context, name: str) -> Iterator[str]:
    """A variable's meaning (its comment in default.conf), state and value."""
    entry = table().entry(name, ctx.config.known | ctx.config.framework)
    yield f"{name}: {entry.describe()}"
    if entry.state.refuses:
        yield f"  instead: {entry.instead}"
    try:
        doc = documentation(ctx.paths.default_conf.read_text(), name)
    except OSError:
        doc = None
    if doc:
        yield from (f"  {line}" for line in doc.splitlines())
    elif entry.state is not State.UNKNOWN and name not in ctx.config.framework:
        yield "  (a ReaR 2.7 variable rearbuild does not define: see ReaR's default.conf for its meaning)"
    if name in ctx.config:
        setting = ctx.config.settings[name]
        yield f"  value: {_shown(ctx, setting)}  # set by {_origin(ctx, setting.origin)}"
    else:
        yield "  value: (not set)"


def dump(ctx: Context) -> int:
    """Print the dump (or the named variables); the status is 1 when the configuration could not work."""
    names = tuple(ctx.options.args)
    # Values keep the bytes bash gave them (surrogateescape): written back as those bytes, the output stays bash
    # that reproduces each value, and a non-UTF-8 byte is not an encoding error.
    text = "\n".join(line for name in names for line in explain(ctx, name)) if names else "\n".join(lines(ctx))
    sys.stdout.flush()
    sys.stdout.buffer.write((text + "\n").encode("utf-8", "surrogateescape"))
    sys.stdout.buffer.flush()
    if names:
        return 0
    found = problems(ctx.config, ctx.paths.share_dir / "recipes", str(ctx.paths.share_dir))
    for problem in found:
        log.error("%s", problem.message)
        log.error("hint: %s", problem.hint)
    return 1 if found else 0
