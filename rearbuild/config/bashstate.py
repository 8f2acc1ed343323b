"""Evaluate ReaR-style configuration files with bash and read the variables back.

ReaR's configuration files are bash: users put `if`, `$(hostname)`, `+=` and arrays in them, so rearbuild does
not parse them, it lets bash evaluate them and reads the result back. One bash process sources the files in
order; after each file it writes every variable (name, kind, elements) NUL-separated to a dump file, so
values survive any quoting, newline or non-ASCII byte, and the file that changed a variable last is known.

The generated script (which carries values, secrets included) is a private file, never bash's argv: the argv of
every process is world-readable in /proc/PID/cmdline. bash's output goes to files, not pipes, so a background job
a file starts (`sleep 20 &`) cannot hold the run; and the dump is opened by name for each write, not held on a
descriptor a file could write to by accident (`echo hi >&3`).

Errors bash prints while sourcing ("local.conf: line 7: syntax error ...", "readonly variable") already name file
and line: they become a UserError instead of being ignored as ReaR does.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rearbuild.errors import InternalError, UserError
from rearbuild.run import run

log = logging.getLogger("rearbuild.config")

# A value as bash holds it: a scalar, an indexed array, or an associative array.
Value = str | tuple[str, ...] | tuple[tuple[str, str], ...]

# Variables bash maintains itself; they change on their own and are never configuration.
BASH_OWN = frozenset(
    """BASH BASHOPTS BASHPID BASH_ALIASES BASH_ARGC BASH_ARGV BASH_ARGV0 BASH_CMDS BASH_COMMAND BASH_COMPAT
    BASH_ENV BASH_EXECUTION_STRING BASH_LINENO BASH_LOADABLES_PATH BASH_REMATCH BASH_SOURCE BASH_SUBSHELL
    BASH_VERSINFO BASH_VERSION BASH_XTRACEFD COLUMNS COMP_WORDBREAKS DIRSTACK EPOCHREALTIME EPOCHSECONDS EUID
    FUNCNAME GROUPS HISTCMD HISTFILE HISTFILESIZE HISTSIZE HOSTTYPE IFS LINENO LINES MACHTYPE MAILCHECK OPTARG
    OPTERR OPTIND OSTYPE PIPESTATUS PPID PS1 PS2 PS3 PS4 PWD OLDPWD RANDOM SECONDS SHELL SHELLOPTS SHLVL
    SRANDOM UID _""".split()
)

# The dump format, one record per variable, every field NUL-terminated:
#   F <label>                         a marker: the variables that follow are the state after <label>
#   S <name> <value>                  scalar
#   a <name> <count> <v1> ... <vN>    indexed array (indices are not kept: ReaR's arrays are dense)
#   A <name> <count> <k1> <v1> ...    associative array
EMIT_FUNCTION = r"""
__rb_emit() {
    local __rb_n __rb_k __rb_attr
    {
    printf 'F\0%s\0' "$1"
    for __rb_n in $(compgen -v); do
        case $__rb_n in __rb_*) continue ;; esac
        __rb_attr=${!__rb_n@a}
        case $__rb_attr in *n*) continue ;; esac
        declare -n __rb_r=$__rb_n
        case $__rb_attr in
        *A*)
            printf 'A\0%s\0%s\0' "$__rb_n" "${#__rb_r[@]}"
            for __rb_k in "${!__rb_r[@]}"; do printf '%s\0%s\0' "$__rb_k" "${__rb_r[$__rb_k]}"; done ;;
        *a*)
            printf 'a\0%s\0%s\0' "$__rb_n" "${#__rb_r[@]}"
            for __rb_k in "${__rb_r[@]}"; do printf '%s\0' "$__rb_k"; done ;;
        *)
            printf 'S\0%s\0%s\0' "$__rb_n" "${__rb_r-}" ;;
        esac
        unset -n __rb_r
    done
    } >>"$__rb_dump"
}
"""


@dataclass(frozen=True)
class Layer:
    """One file to source, or (path None) a block of assignments rearbuild makes itself between files."""

    label: str
    path: Path | None = None
    assignments: Mapping[str, Value] | None = None
    readonly: bool = False


@dataclass(frozen=True)
class Evaluation:
    """The variables after all layers, and for each the label of the layer that changed it last."""

    values: Mapping[str, Value]
    origins: Mapping[str, str]
    output: str
    # Variables a layer unset (and no later layer set again), with the label of that layer.
    unset: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BashRun:
    """What a generated script left: exit status, what it printed, and its variable dump."""

    returncode: int
    out: str
    err: str
    dump: bytes


def run_script(lines: Sequence[str], workdir: Path, *, env: Mapping[str, str] | None = None) -> BashRun:
    """Run a generated bash script from a private file in workdir (a fresh 0700 directory of the caller).

    The script is passed by path, so no value appears in `ps`; the script itself sends its output to files and
    defines $__rb_dump for __rb_emit, so neither background jobs nor stray writes to a descriptor disturb it.
    """
    script, out, err, dump = (workdir / name for name in ("script", "out", "err", "dump"))
    prologue = [
        f"exec >{bash_quote(str(out))} 2>{bash_quote(str(err))}",
        f"readonly __rb_dump={bash_quote(str(dump))}",
    ]
    descriptor = os.open(script, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write("\n".join([*prologue, *lines, ""]).encode("utf-8", "surrogateescape"))
    environment = None if env is None else dict(env)
    result = run(["/bin/bash", "--noprofile", "--norc", str(script)], env=environment, check=False)

    def read(path: Path) -> bytes:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return b""

    # result.out/err hold only what bash printed before the first line redirected its output
    printed = (result.stdout + read(out)).decode("utf-8", "surrogateescape")
    errors = (result.stderr + read(err)).decode("utf-8", "surrogateescape")
    return BashRun(result.returncode, printed, errors, read(dump))


# An error line of bash is cut to this many characters in messages: a 5 MB word must not become a 5 MB error.
_ERROR_LINE_MAX = 300


def _short(line: str) -> str:
    return line if len(line) <= _ERROR_LINE_MAX else line[:_ERROR_LINE_MAX] + f"... ({len(line)} chars)"


def bash_quote(value: str) -> str:
    """Quote a string for bash so that it reads back byte for byte (single quotes, ' as '\\'')."""
    return "'" + value.replace("'", "'\\''") + "'"


def bash_assignment(name: str, value: Value) -> str:
    """A bash statement that gives `name` this value; arrays keep their kind."""
    if isinstance(value, str):
        return f"{name}={bash_quote(value)}"
    pairs = [v for v in value if isinstance(v, tuple)]
    if pairs:
        return f"declare -A {name}=(" + " ".join(f"[{bash_quote(k)}]={bash_quote(v)}" for k, v in pairs) + ")"
    return f"{name}=(" + " ".join(bash_quote(v) for v in value if isinstance(v, str)) + ")"


def check_file(path: Path) -> None:
    """Refuse what bash would misread: carriage returns (ReaR refuses them too) and unreadable files."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read configuration file {path}: {exc.strerror}") from exc
    if b"\r" in data:
        line = data[: data.index(b"\r")].count(b"\n") + 1
        raise UserError(
            f"{path}:{line}: configuration file has carriage return characters (DOS line endings)",
            hint=f"convert it with: sed -i 's/\\r$//' {path}",
        )


_ASSIGN_RE = r"^\s*(?:(?:declare|typeset|export|readonly|local)\s+(?:-\w+\s+)*)?{name}(?:\[[^]]*\])?\+?="
_ANY_ASSIGN_RE = re.compile(_ASSIGN_RE.format(name=r"([A-Za-z_][A-Za-z0-9_]*)"), re.M)


def assigned_names(path: Path) -> frozenset[str]:
    """Names a file assigns somewhere (a file that sets a variable to the value it had still set it)."""
    try:
        return frozenset(_ANY_ASSIGN_RE.findall(path.read_text(errors="replace")))
    except OSError:
        return frozenset()


def line_of_assignment(path: Path, name: str) -> int | None:
    """The last line of `path` that assigns `name` (for messages that must name file and line)."""
    pattern = re.compile(_ASSIGN_RE.format(name=re.escape(name)))
    found = None
    try:
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if pattern.match(line):
                found = number
    except OSError:
        return None
    return found


def parse_dump(data: bytes) -> list[tuple[str, dict[str, Value]]]:
    fields = data.split(b"\0")
    if fields and fields[-1] == b"":
        fields.pop()
    text = [f.decode("utf-8", "surrogateescape") for f in fields]
    snapshots: list[tuple[str, dict[str, Value]]] = []
    pos = 0
    current: dict[str, Value] | None = None

    def take() -> str:
        nonlocal pos
        if pos >= len(text):
            raise InternalError("truncated bash variable dump")
        pos += 1
        return text[pos - 1]

    while pos < len(text):
        tag = take()
        if tag == "F":
            current = {}
            snapshots.append((take(), current))
            continue
        if current is None:
            raise InternalError(f"bash variable dump starts with {tag!r}, not a marker")
        name = take()
        if tag == "S":
            current[name] = take()
        elif tag == "a":
            count = int(take())
            current[name] = tuple(take() for _ in range(count))
        elif tag == "A":
            count = int(take())
            current[name] = tuple(sorted((take(), take()) for _ in range(count)))
        else:
            raise InternalError(f"unknown record {tag!r} in bash variable dump")
    return snapshots


# A DEBUG trap (bash runs it before each command) writes "<NUL>__rb_at FILE:LINE" to standard error. Only at the
# files' top level (BASH_SUBSHELL 0): inside a command substitution it could land in the value being read. It
# prints a location, never a value, so `{ SECRET=... ; } 2>>/dev/null` keeps secrets out of it as in ReaR.
_MARK = "\0__rb_at "
_TRACE = (
    "[[ $BASH_SUBSHELL == 0 && -n ${BASH_SOURCE[0]-} ]] && "
    'printf "\\0__rb_at %s:%s\\n" "${BASH_SOURCE[0]}" "$LINENO" >&2'
)
# bash's own messages name file and line already: "/etc/rear/local.conf: line 7: ..."
_BASH_OWN_ERROR = re.compile(r"^\S.*: line \d+: ")


def located_errors(err: str) -> list[str]:
    """The lines bash and the commands it ran printed on standard error, each naming file:line (the location of
    the command that printed it, from the trace), the trace's own lines left out."""
    where = ""
    found = []
    for line in err.splitlines():
        if line.startswith(_MARK):
            where = line[len(_MARK) :]
        elif line.strip():
            own = _BASH_OWN_ERROR.match(line) or not where
            found.append(line if own else f"{where}: a command run while reading the configuration failed: {line}")
    return found


def evaluate(
    layers: Sequence[Layer],
    *,
    env: Mapping[str, str],
) -> Evaluation:
    """Source every layer in order in one bash process and return the resulting variables.

    Only variables that some layer set are returned: the environment and bash's own variables are not
    configuration. Any message bash prints on standard error is an error naming file and line.
    """
    script = ["set +o posix", "shopt -s nullglob extglob", EMIT_FUNCTION, "__rb_emit '<environment>'"]
    for layer in layers:
        if layer.path is not None:
            check_file(layer.path)
            # Sourced at top level, not in a function, so `declare` in a file makes globals as in ReaR.
            # the trace marks where each top-level command starts, so that what a command run at load time prints
            # on standard error ("ls: cannot access ...", no file or line of its own) is named by file:line
            script += [
                "set -T",
                f"trap {bash_quote(_TRACE)} DEBUG",
                f"source {bash_quote(str(layer.path))}",
                "trap - DEBUG",
                "set +T",
            ]
        for name, value in (layer.assignments or {}).items():
            script.append(bash_assignment(name, value))
            if layer.readonly:
                script.append(f"readonly {name}")
        script.append(f"__rb_emit {bash_quote(layer.label)}")
    with tempfile.TemporaryDirectory(prefix="rearbuild-conf.") as tmp:
        result = run_script(script, Path(tmp), env=env)
    if not result.dump and not result.err.strip():
        raise InternalError(f"bash wrote no variable dump (exit status {result.returncode})")
    data = result.dump
    printed = result.out
    errors = located_errors(result.err)
    if errors:
        raise UserError(
            "error in configuration: " + "; ".join(_short(line) for line in errors[:5]),
            hint="fix the file and line named above (it is bash, read the way ReaR reads it)",
        )
    if result.returncode != 0:
        raise UserError(f"configuration files could not be read (bash exited with {result.returncode})")
    snapshots = parse_dump(data)
    if len(snapshots) != len(layers) + 1:
        raise UserError(
            "a configuration file stopped bash early (an `exit` or `return` at top level?)",
            hint="remove the exit/return from the configuration file",
        )
    previous = snapshots[0][1]
    values: dict[str, Value] = {}
    origins: dict[str, str] = {}
    unset: dict[str, str] = {}
    for layer, (label, state) in zip(layers, snapshots[1:], strict=True):
        assigned = assigned_names(layer.path) if layer.path is not None else frozenset(layer.assignments or ())
        for name, value in state.items():
            if name in BASH_OWN:
                continue
            if previous.get(name) != value or name not in previous or name in assigned:
                origins[name] = label
                unset.pop(name, None)
        for name in list(origins):
            if name not in state:  # unset by this layer
                del origins[name]
                values.pop(name, None)
                unset[name] = label
        previous = state
    final = snapshots[-1][1]
    for name in origins:
        values[name] = final[name]
    if printed.strip():
        log.info("configuration files printed:\n%s", printed.rstrip())
    return Evaluation(values=values, origins=origins, output=printed, unset=unset)


def clean_environment(passthrough: frozenset[str] = frozenset()) -> dict[str, str]:
    """The environment configuration files are evaluated in: fixed PATH and locale (ReaR sets LC_ALL=C),
    plus the caller's values of configuration variables that default.conf lets the environment preset."""
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LC_ALL": "C",
        "HOME": os.environ.get("HOME", "/root"),
    }
    for name in passthrough:
        if name in os.environ:
            env[name] = os.environ[name]
    return env
