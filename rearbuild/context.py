"""The run context: the read-only configuration plus the mutable state of one run.

Config is frozen; what a run learns or decides (the build directory, variables recipes set for later stages,
the manifest, the layout, the artefacts) lives here, so recipes share state through one explicit object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rearbuild.config.bashstate import Value
from rearbuild.config.model import Config
from rearbuild.errors import InternalError, UserError
from rearbuild.facts import Facts
from rearbuild.paths import Paths

# The framework manages these; configuration files and recipes may read but not change them (the seed's "RO").
READONLY = (
    "CONFIG_DIR",
    "SHARE_DIR",
    "VAR_DIR",
    "LOG_DIR",
    "TMPDIR",
    "WORKFLOW",
    "BUILD_DIR",
    "ROOTFS_DIR",
    "TMP_DIR",
    "TARGET_FS_ROOT",
    "RECOVERY_MODE",
    "REARBUILD_VERSION",
)

# Timestamp of every file in rescue images when SOURCE_DATE_EPOCH is not set: a fixed date, not the clock,
# so that two builds of the same inputs are byte-identical (https://reproducible-builds.org/specs/source-date-epoch/).
DEFAULT_EPOCH = 1704067200  # 2024-01-01T00:00:00Z

# Where the recovered system is mounted during recovery (ReaR: readonly TARGET_FS_ROOT=/mnt/local).
TARGET_FS_ROOT = "/mnt/local"


@dataclass(frozen=True)
class Options:
    """What the command line asked for (rear's options, same letters)."""

    workflow: str
    args: tuple[str, ...] = ()
    verbose: bool = False
    debug: bool = False
    debugscripts: bool = False
    simulate: bool = False
    step: bool = False
    non_interactive: bool = False
    expose_secrets: bool = False
    kernel_version: str | None = None
    extra_config: tuple[str, ...] = ()


@dataclass
class Context:
    options: Options
    paths: Paths
    facts: Facts
    config: Config
    build_dir: Path | None = None
    log_file: Path | None = None
    recovery_mode: bool = False
    # Variables recipes set for later stages (ReaR's scripts change PROGS, COPY_AS_IS, ... as they go).
    vars: dict[str, Value] = field(default_factory=dict)
    # Results of stages for later stages, by a name the producing recipe documents (manifest, layout, ...).
    results: dict[str, Any] = field(default_factory=dict)
    # Artefacts to publish at the end (ReaR's RESULT_FILES).
    result_files: list[Path] = field(default_factory=list)
    timings: list[tuple[str, float]] = field(default_factory=list)
    _merged: Config | None = field(default=None, init=False, repr=False)

    @property
    def rootfs_dir(self) -> Path:
        return self._build("rootfs")

    @property
    def tmp_dir(self) -> Path:
        return self._build("tmp")

    def _build(self, name: str) -> Path:
        if self.build_dir is None:
            raise InternalError(f"{self.options.workflow} runs without a build directory, yet asked for {name}")
        return self.build_dir / name

    # Reading variables: what a recipe set wins over the configuration files.
    def _effective(self) -> Config:
        # rebuilt only after a recipe changed a variable: recipes read variables far more often than they set them
        if self._merged is None:
            self._merged = self.config.with_values(self.vars, "<recipe>") if self.vars else self.config
        return self._merged

    def text(self, name: str) -> str:
        return self._effective().text(name)

    def items(self, name: str) -> tuple[str, ...]:
        return self._effective().items(name)

    def flag(self, name: str) -> bool:
        return self._effective().flag(name)

    def number(self, name: str) -> int:
        return self._effective().number(name)

    @property
    def epoch(self) -> int:
        """SOURCE_DATE_EPOCH, or the fixed default."""
        text = self.text("SOURCE_DATE_EPOCH").strip()
        if not text:
            return DEFAULT_EPOCH
        if not text.isdigit():
            raise UserError(
                f"SOURCE_DATE_EPOCH={text!r} is not a number of seconds since 1970",
                hint="unset it, or set it to e.g. $(git log -1 --format=%ct)",
            )
        return int(text)

    def set(self, name: str, value: Value) -> None:
        if name in READONLY:
            raise UserError(f"{name} is managed by rearbuild and cannot be changed by a recipe")
        self.vars[name] = value
        self._merged = None

    def add(self, name: str, *values: str) -> None:
        """Append to an array variable (bash's NAME+=( ... ))."""
        self.set(name, (*self.items(name), *values))

    def variables(self) -> dict[str, Value]:
        """Every variable as recipes see it: configuration, then what recipes set."""
        merged: dict[str, Value] = {s.name: s.value for s in self.config}
        merged.update(self.vars)
        return merged
