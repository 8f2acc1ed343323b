"""Recipes: the ordered steps of a stage, gathered across layers (ReaR's SourceStage, study §1.2).

A stage's recipes live in recipes/<stage>/<layer>/NNN_name.{py,sh} for every layer of rearbuild.layers (default,
arch, OS, vendor, version; the same under $BACKUP/, $OUTPUT/ and $OUTPUT/$BACKUP/), plus the user's own in
$CONFIG_DIR/recipes/<stage>/. All of a stage's recipes run in one global order: by NNN, then by name, wherever
they live, so a vendor recipe 250_x runs between default's 200_y and 300_z.

A Python recipe defines main(ctx). A shell recipe is sourced by bash with every configuration variable declared
(scalars exported, the framework's read-only), ReaR's Log/LogPrint/Error functions, and what it sets for later
stages read back into the context.
"""

from __future__ import annotations

import enum
import importlib.util
import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rearbuild.config.bashstate import (
    BASH_OWN,
    EMIT_FUNCTION,
    bash_assignment,
    bash_quote,
    parse_dump,
    run_script,
)
from rearbuild.config.model import is_secret
from rearbuild.context import READONLY, Context
from rearbuild.errors import InternalError, UserError
from rearbuild.layers import recipe_layers
from rearbuild.log import NOTICE, notice
from rearbuild.run import run_interactive

log = logging.getLogger("rearbuild.recipes")

_NAME_RE = re.compile(r"^(\d{3})_[^/]+\.(py|sh)$")


class RecipeKind(enum.Enum):
    PYTHON = "py"
    SHELL = "sh"

    def execute(self, recipe: Recipe, ctx: Context) -> None:
        match self:
            case RecipeKind.PYTHON:
                _run_python(recipe, ctx)
            case RecipeKind.SHELL:
                _run_shell(recipe, ctx)


@dataclass(frozen=True)
class Recipe:
    path: Path
    label: str  # shown by -s and in the log: path relative to the recipes root, or absolute for user recipes
    number: int
    kind: RecipeKind

    @property
    def sort_key(self) -> tuple[int, str, str]:
        return (self.number, self.path.name, self.label)


def discover(stage: str, ctx: Context) -> list[Recipe]:
    roots = [(ctx.paths.share_dir / "recipes", True), (ctx.paths.config_dir / "recipes", False)]
    variables = {k: v for k, v in ctx.variables().items() if isinstance(v, str)}
    layers = recipe_layers(variables, ctx.text("BACKUP"), ctx.text("OUTPUT"))
    found: dict[Path, Recipe] = {}
    for root, shipped in roots:
        directories = [root / stage / layer for layer in layers] if shipped else [root / stage]
        for directory in directories:
            if not directory.is_dir():
                continue
            for path in sorted(directory.iterdir()):
                if not path.is_file() or path.suffix not in (".py", ".sh") or path.name == "__init__.py":
                    continue
                match = _NAME_RE.match(path.name)
                if not match:
                    log.warning("ignoring recipe %s: names must be NNN_name.py or NNN_name.sh", path)
                    continue
                label = str(path.relative_to(root)) if shipped else str(path)
                found[path] = Recipe(path, label, int(match[1]), RecipeKind(match[2]))
    return sorted(found.values(), key=lambda r: r.sort_key)


def execute(recipe: Recipe, ctx: Context) -> None:
    recipe.kind.execute(recipe, ctx)


def _run_python(recipe: Recipe, ctx: Context) -> None:
    module_name = "rearbuild_recipe_" + re.sub(r"\W", "_", recipe.label)
    spec = importlib.util.spec_from_file_location(module_name, recipe.path)
    if spec is None or spec.loader is None:
        raise UserError(f"cannot load recipe {recipe.path}")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise UserError(f"{recipe.path}:{exc.lineno}: syntax error in recipe: {exc.msg}") from exc
    entry = getattr(module, "main", None)
    if not callable(entry):
        raise UserError(f"recipe {recipe.path} has no main(ctx) function", hint="define def main(ctx): ...")
    entry(ctx)


# ReaR's framework functions, for shell recipes written the ReaR way. Messages go to a file the framework
# replays into its log; Error stops the recipe with a status the framework turns into a user error.
_SHELL_FUNCTIONS = r"""
Log() { printf 'I %s\n' "$*" >>"$__rb_msgs"; }
Debug() { printf 'D %s\n' "$*" >>"$__rb_msgs"; }
LogPrint() { printf 'N %s\n' "$*" >>"$__rb_msgs"; }
LogPrintError() { printf 'W %s\n' "$*" >>"$__rb_msgs"; }
Print() { LogPrint "$@"; }
Error() { printf 'E %s\n' "$*" >>"$__rb_msgs"; exit 97; }
BugError() { printf 'B %s\n' "$*" >>"$__rb_msgs"; exit 98; }
StopIfError() { (( $? == 0 )) || Error "$@"; }
is_true() { case "${1,,}" in y|yes|true|1|on|ja|j|si|oui|t) return 0 ;; esac; return 1; }
is_false() { case "${1,,}" in n|no|false|0|off|nein|f) return 0 ;; esac; return 1; }
has_binary() { local b; for b in "$@"; do type -P "$b" >/dev/null 2>&1 && return 0; done; return 1; }
"""

_LEVELS = {"I": logging.INFO, "D": logging.DEBUG, "N": NOTICE, "W": logging.WARNING}


def _environment(ctx: Context, msgs: Path) -> list[str]:
    """bash lines that give a shell the run's environment: every variable (scalars exported, the framework's
    read-only) and ReaR's functions, whose messages go to msgs."""
    lines = [
        "set +o posix",
        "shopt -s nullglob extglob",
        EMIT_FUNCTION,
        _SHELL_FUNCTIONS,
        f"__rb_msgs={bash_quote(str(msgs))}",
    ]
    for name, value in sorted(ctx.variables().items()):
        lines.append(bash_assignment(name, value))
        if isinstance(value, str):
            lines.append(f"export {name}")
        if name in READONLY:
            lines.append(f"readonly {name}")
    return lines


def interactive_shell(ctx: Context) -> int:
    """ReaR's `shell` workflow: bash on the terminal with the run's environment; returns its exit status."""
    with tempfile.TemporaryDirectory(prefix="rearbuild-shell.") as tmp:
        rcfile = Path(tmp, "rc")
        # 0600 in a 0700 directory: the file carries every value, secrets included, and never goes on argv
        rcfile.touch(mode=0o600)
        lines = _environment(ctx, Path(tmp, "messages"))
        lines += ["[ -r ~/.bashrc ] && source ~/.bashrc", "PS1='rearbuild> '", f"rm -f {bash_quote(str(rcfile))}"]
        rcfile.write_text("\n".join(lines) + "\n")
        notice("a shell with rearbuild's configuration (%s); leave it with exit", ctx.options.workflow.config_name)
        return run_interactive(["bash", "--rcfile", str(rcfile), "-i"], cwd=ctx.build_dir or Path.cwd())


def _masked(text: str, ctx: Context) -> str:
    if ctx.options.expose_secrets:
        return text
    for name, value in ctx.variables().items():
        if is_secret(name):
            # an associative array's items are (key, value) pairs: both may be the secret
            items = (value,) if isinstance(value, str) else value
            words = [w for v in items for w in ((v,) if isinstance(v, str) else v)]
            for secret in words:
                if secret:
                    text = text.replace(secret, "***")
    return text


def _run_shell(recipe: Recipe, ctx: Context) -> None:
    with tempfile.TemporaryDirectory(prefix="rearbuild-recipe.") as tmp:
        # The script carries every value, secrets included: run_script keeps it off the command line.
        msgs = Path(tmp, "messages")
        lines = _environment(ctx, msgs)
        # -D / --debugscripts SET: ReaR's set -x traces of its scripts (on the recipe's stderr, into the log)
        trace = [f"set -{ctx.options.trace_flags}"] if ctx.options.trace_flags else []
        lines += [
            f"cd {bash_quote(str(ctx.build_dir or tmp))}",
            "__rb_emit before",
            *trace,
            f"source {bash_quote(str(recipe.path))}",
            "set +xv",
            "__rb_emit after",
        ]
        result = run_script(lines, Path(tmp))
        messages = msgs.read_text(errors="replace").splitlines() if msgs.exists() else []
        data = result.dump
    failure = None
    for line in messages:
        level, _, text = line.partition(" ")
        if level in ("E", "B"):
            failure = (level, text)
        else:
            log.log(_LEVELS.get(level, logging.INFO), "%s", text)
    if result.out.strip():
        log.info("%s printed:\n%s", recipe.label, _masked(result.out.rstrip(), ctx))
    if result.err.strip():
        # -D's set -x trace expands every variable: secret values are masked as in dump (unless -e)
        log.info("%s printed on stderr:\n%s", recipe.label, _masked(result.err.rstrip(), ctx))
    if failure is not None:
        if failure[0] == "B":
            raise InternalError(f"{recipe.label}: {failure[1]}")
        raise UserError(f"{failure[1]} (in {recipe.label})")
    snapshots = parse_dump(data) if data else []
    if len(snapshots) < 2:
        # ReaR does not stop on a recipe's non-zero status; an `exit` leaves no state to read back.
        log.warning("recipe %s exited (status %d) before it finished", recipe.label, result.returncode)
        return
    before, after = snapshots[0][1], snapshots[-1][1]
    for name, value in after.items():
        if name in BASH_OWN or name in READONLY:
            continue
        if before.get(name) != value:
            ctx.set(name, value)
            log.debug("%s set %s", recipe.label, name)
