"""The configuration cascade, in ReaR's order (usr/sbin/rear l.455 and l.815-890):

framework variables (read-only) -> default.conf -> $CONFIG_DIR/os.conf -> $CONFIG_DIR/$WORKFLOW.conf ->
detected OS facts -> shipped $ARCH/$OS/vendor/version files -> site.conf -> local.conf -> rescue.conf (only in a
rescue system) -> -C files.

Afterwards, what rearbuild cannot honour is refused with the file and line that asked for it.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rearbuild.config.bashstate import Layer, Value, clean_environment, evaluate
from rearbuild.config.compat import UNSUPPORTED
from rearbuild.config.model import Config
from rearbuild.errors import UserError
from rearbuild.facts import Facts
from rearbuild.layers import conf_layers
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
    raise UserError(
        f"configuration file {name!r} given with -C not found (looked for {', '.join(map(str, candidates))})",
        hint="give an absolute path or a file name inside the config directory",
    )


def _user_files(req: LoadRequest) -> list[Path]:
    names = ["site.conf", "local.conf"] + (["rescue.conf"] if req.recovery_mode else [])
    return [p for p in (req.paths.config_dir / n for n in names) if p.is_file()]


def load(req: LoadRequest) -> tuple[Config, Facts]:
    """Evaluate the cascade and return the configuration and the facts after os.conf overrides."""
    paths = req.paths
    known = defined_names(paths.default_conf)
    env = clean_environment(known)
    head = [
        Layer(FRAMEWORK_LABEL, assignments=dict(req.readonly), readonly=True),
        Layer(FRAMEWORK_LABEL, assignments=dict(req.presets)),
        Layer(str(paths.default_conf), paths.default_conf),
    ]
    head += [
        Layer(str(p), p)
        for p in (paths.config_dir / "os.conf", paths.config_dir / f"{req.workflow}.conf")
        if p.is_file()
    ]
    facts = req.facts
    if (paths.config_dir / "os.conf").is_file():
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
    files = tuple(layer.label for layer in layers if layer.path is not None)
    config = Config.of(result.values, result.origins, files=files, known=known)
    check_honoured(config, paths, frozenset(req.readonly) | frozenset(req.presets) | frozenset(variables))
    return config, facts


def check_honoured(config: Config, paths: Paths, framework: frozenset[str]) -> None:
    """Refuse ReaR settings rearbuild cannot honour; warn about names nobody reads (typos)."""
    shipped = str(paths.share_dir)
    for setting in config:
        if setting.origin.startswith(shipped) or setting.origin in (FRAMEWORK_LABEL, DETECTED_LABEL):
            continue
        name = setting.name
        if name in UNSUPPORTED and setting.value not in ("", ()):
            raise UserError(
                f"{config.where(name)}: {name} is a ReaR setting rearbuild does not support yet: {UNSUPPORTED[name]}",
                hint=f"remove {name} from {setting.origin}",
            )
        if name not in config.known and name not in framework:
            close = difflib.get_close_matches(name, sorted(config.known), n=1, cutoff=0.85)
            suggestion = f" (did you mean {close[0]}?)" if close else ""
            log.warning(
                "%s: %s is not a rearbuild configuration variable%s; only your own recipes can read it",
                config.where(name),
                name,
                suggestion,
            )
