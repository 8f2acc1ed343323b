"""The configuration cascade, in ReaR's order (usr/sbin/rear l.455 and l.815-890):

framework variables (read-only) -> default.conf -> $CONFIG_DIR/os.conf -> $CONFIG_DIR/$WORKFLOW.conf ->
detected OS facts -> shipped $ARCH/$OS/vendor/version files -> site.conf -> local.conf -> rescue.conf (only in a
rescue system) -> -C files.

Afterwards, what rearbuild cannot honour is refused with the file and line that asked for it.
"""

from __future__ import annotations

import difflib
import enum
import logging
import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rearbuild.config.bashstate import Layer, Value, clean_environment, evaluate
from rearbuild.config.model import Config, truth
from rearbuild.config.validate import variable_problems
from rearbuild.config.variables import State, table
from rearbuild.errors import UserError
from rearbuild.facts import Facts
from rearbuild.layers import conf_layers
from rearbuild.log import notice
from rearbuild.paths import Paths

log = logging.getLogger("rearbuild.config")

_DEFINED_RE = re.compile(r"^(?:declare\s+(?:-\w+\s+)*)?([A-Za-z_][A-Za-z0-9_]*)(?:\[[^]]*\])?\+?=", re.M)

FRAMEWORK_LABEL = "<rearbuild>"
DETECTED_LABEL = "<detected>"


@dataclass(frozen=True)
class LoadRequest:
    paths: Paths
    workflow: str
    facts: Facts
    # Read-only variables the framework manages (CONFIG_DIR, BUILD_DIR, ...): a file assigning one is an error.
    readonly: Mapping[str, Value]
    # Variables the framework presets that configuration may change (HOSTNAME, KERNEL_VERSION from -r, ...).
    presets: Mapping[str, Value]
    extra_files: Sequence[str] = ()
    recovery_mode: bool = False
    # dump: refused variables are reported after the dump (rearbuild.config.validate) instead of stopping the load
    lenient: bool = False
    # Notices (an irrelevant variable) on the terminal; else only in the log: when the same configuration is read a
    # second time in a run, and in workflows that run from cron (checklayout), which must stay quiet
    announce: bool = True


def defined_names(default_conf: Path) -> frozenset[str]:
    """Every variable default.conf assigns: the reference list of configuration variables."""
    try:
        return frozenset(_DEFINED_RE.findall(default_conf.read_text()))
    except OSError as exc:
        raise UserError(
            f"cannot read {default_conf}: {exc.strerror}",
            hint="the installation is broken, reinstall rearbuild or fix --share-dir/REARBUILD_SHARE_DIR",
        ) from exc


def _extra_file(paths: Paths, name: str) -> Path:
    # ReaR's -C: an absolute path as is, a relative one inside CONFIG_DIR, with or without the .conf suffix.
    candidates = [Path(name)] if Path(name).is_absolute() else [paths.config_dir / name]
    candidates += [c.with_name(c.name + ".conf") for c in candidates if not c.name.endswith(".conf")]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    for candidate in candidates:
        config_file(candidate)  # a FIFO, a directory, a dangling link: say what is there, not "not found"
    raise UserError(
        f"configuration file {name!r} given with -C not found (looked for {', '.join(map(str, candidates))})",
        hint="give an absolute path or a file name inside the config directory",
    )


class PathKind(enum.Enum):
    """What a configuration path is, symlinks followed: only MISSING and the expected kind are usable."""

    MISSING = "missing"
    FILE = "regular file"
    DIRECTORY = "directory"
    DANGLING = "dangling symlink"
    FIFO = "fifo"
    SOCKET = "socket"
    DEVICE = "device"

    @classmethod
    def of(cls, path: Path) -> PathKind:
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            return cls.DANGLING if path.is_symlink() else cls.MISSING
        if stat.S_ISREG(mode):
            return cls.FILE
        if stat.S_ISDIR(mode):
            return cls.DIRECTORY
        if stat.S_ISFIFO(mode):
            return cls.FIFO
        return cls.SOCKET if stat.S_ISSOCK(mode) else cls.DEVICE


def check_config_dir(paths: Paths) -> None:
    """The configuration directory is a readable directory, or (only for the default /etc/rear) absent.

    A named directory (-c) that is missing, or any config dir that is a file, a dangling link or one the user
    cannot read, would otherwise be skipped silently and the run would go on with the defaults.
    """
    where = paths.config_dir
    hint = "give an existing configuration directory with -c (or REARBUILD_CONFIG_DIR)"
    try:
        kind = PathKind.of(where)
    except OSError as exc:
        raise UserError(f"cannot read the configuration directory {where}: {exc.strerror}", hint=hint) from exc
    if kind is PathKind.MISSING:
        if paths.config_dir_required:
            raise UserError(f"configuration directory {where} does not exist", hint=hint)
        return
    if kind is not PathKind.DIRECTORY:
        raise UserError(f"configuration directory {where} is a {kind.value}, not a directory", hint=hint)
    if not os.access(where, os.R_OK | os.X_OK):
        raise UserError(
            f"cannot read the configuration directory {where}: permission denied",
            hint="run as root (ReaR needs root too), or give a directory you can read with -c",
        )


def config_file(path: Path) -> Path | None:
    """A configuration file the cascade reads if it exists; anything there that is not a file is refused (a FIFO
    would block, a directory or a dangling link would be skipped and the defaults used)."""
    try:
        kind = PathKind.of(path)
    except OSError as exc:
        raise UserError(f"cannot read configuration file {path}: {exc.strerror}") from exc
    if kind is PathKind.MISSING:
        return None
    if kind is not PathKind.FILE:
        raise UserError(
            f"{path} is a {kind.value}, not a configuration file",
            hint=f"put a regular file at {path}, or remove it",
        )
    return path


def _user_files(req: LoadRequest) -> list[Path]:
    names = ["site.conf", "local.conf"] + (["rescue.conf"] if req.recovery_mode else [])
    return [p for p in (config_file(req.paths.config_dir / n) for n in names) if p is not None]


def load(req: LoadRequest) -> tuple[Config, Facts]:
    """Evaluate the cascade and return the configuration and the facts after os.conf overrides."""
    paths = req.paths
    check_config_dir(paths)
    known = defined_names(paths.default_conf)
    env = clean_environment(known)
    head = [
        Layer(FRAMEWORK_LABEL, assignments=dict(req.readonly), readonly=True),
        Layer(FRAMEWORK_LABEL, assignments=dict(req.presets)),
        Layer(str(paths.default_conf), paths.default_conf),
    ]
    os_conf = config_file(paths.config_dir / "os.conf")
    workflow_conf = config_file(paths.config_dir / f"{req.workflow}.conf")
    head += [Layer(str(p), p) for p in (os_conf, workflow_conf) if p is not None]
    facts = req.facts
    if os_conf is not None:
        # os.conf may name the OS by hand (ReaR: detection only runs while OS_VENDOR is still "generic").
        early = evaluate(head, env=env).values
        vendor, version = early.get("OS_VENDOR"), early.get("OS_VERSION")
        if isinstance(vendor, str) and vendor not in ("", "generic") and isinstance(version, str):
            facts = facts.with_vendor(vendor, version)
    variables = facts.variables()
    shipped = [paths.share_dir / "conf" / f"{name}.conf" for name in conf_layers(variables)]
    layers = [
        *head,
        Layer(DETECTED_LABEL, assignments=dict(variables)),
        *(Layer(str(p), p) for p in shipped if p.is_file()),
        *(Layer(str(p), p) for p in _user_files(req)),
        *(Layer(str(p), p) for p in (_extra_file(paths, n) for n in req.extra_files)),
    ]
    result = evaluate(layers, env=env)
    values, origins = dict(result.values), dict(result.origins)
    for name, label in result.unset.items():
        # `unset BACKUP_URL`: ReaR's scripts then read "$BACKUP_URL" as empty (they do not run under set -u), so
        # rearbuild reads it as empty too, set by the file that unset it, instead of failing as undefined.
        if name in known:
            values[name], origins[name] = "", label
    _efi_stub_is_uki(values, origins)
    files = tuple(layer.label for layer in layers if layer.path is not None)
    framework = frozenset(req.readonly) | frozenset(req.presets) | frozenset(variables)
    config = Config.of(values, origins, files=files, known=known, framework=framework)
    check_honoured(config, paths, lenient=req.lenient, announce=req.announce)
    return config, facts


def _efi_stub_is_uki(values: dict[str, Value], origins: dict[str, str]) -> None:
    """ReaR's EFI_STUB=y boots the rescue kernel as an EFI program: here that is OUTPUT=UKI, set by EFI_STUB's file."""
    stub = values.get("EFI_STUB")
    if isinstance(stub, str) and truth(stub) and values.get("OUTPUT") != "UKI":
        values["OUTPUT"], origins["OUTPUT"] = "UKI", origins.get("EFI_STUB", DETECTED_LABEL)


def check_honoured(config: Config, paths: Paths, *, lenient: bool = False, announce: bool = True) -> None:
    """Refuse the ReaR settings rearbuild cannot honour (conf/rear-variables.tsv), say once which ones have no
    effect here, and warn about names nobody reads (typos). lenient: leave the refusals to the caller."""
    shipped = str(paths.share_dir)
    if not lenient:
        for problem in variable_problems(config, shipped):
            raise problem.error()
    say = notice if announce else log.info
    rows = table()
    for setting in config:
        if setting.origin.startswith(shipped) or setting.origin in (FRAMEWORK_LABEL, DETECTED_LABEL):
            continue
        name = setting.name
        entry = rows.entry(name, config.known | config.framework)
        if entry.state is State.IRRELEVANT and setting.value not in ("", ()):
            say("%s: %s is accepted and has no effect: %s", config.where(name), name, entry.why)
        elif entry.state is State.UNKNOWN:
            close = difflib.get_close_matches(name, sorted(config.known | rows.rear_names), n=1, cutoff=0.85)
            suggestion = f" (did you mean {close[0]}?)" if close else ""
            log.warning(
                "%s: %s is not a rearbuild configuration variable%s; only your own recipes can read it",
                config.where(name),
                name,
                suggestion,
            )
