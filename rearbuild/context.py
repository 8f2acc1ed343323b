"""The run context: the read-only configuration plus the mutable state of one run.

Config is frozen; what a run learns or decides lives here: variables recipes set for later stages (ctx.set),
and the typed results of stages (ctx.state, rearbuild.state). Recipes share state through this one object; the
library never sees it.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rearbuild.config.bashstate import Value
from rearbuild.config.model import Config
from rearbuild.errors import InternalError, UserError
from rearbuild.facts import Facts, KernelCmdline
from rearbuild.paths import Paths
from rearbuild.recover.options import RecoverOptions
from rearbuild.state import RunState
from rearbuild.workflow import Workflow

if TYPE_CHECKING:
    from rearbuild.collect.records import RecordMaker

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


@dataclass(frozen=True)
class Options:
    """What the command line asked for (rear's options, same letters)."""

    workflow: Workflow
    args: tuple[str, ...] = ()
    verbose: bool = False
    debug: bool = False
    debugscripts: bool = False
    trace_flags: str = ""  # --debugscripts SET: shell recipes run with `set -SET`
    portable: bool = False
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
    cmdline: KernelCmdline = field(default_factory=KernelCmdline)
    # Variables recipes set for later stages (ReaR's scripts change PROGS, COPY_AS_IS, ... as they go).
    vars: dict[str, Value] = field(default_factory=dict)
    # What stages produce for later stages, one typed field per result.
    state: RunState = field(default_factory=RunState)
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
            raise InternalError(f"{self.options.workflow.value} runs without a build directory, yet asked for {name}")
        return self.build_dir / name

    @property
    def mount_dir(self) -> Path:
        """$BUILD_DIR/outputfs, where a run mounts a backup location (ReaR's name)."""
        return self._build("outputfs")

    @property
    def interactive(self) -> bool:
        """Someone can answer questions: not -n, and a terminal on standard input."""
        return not self.options.non_interactive and sys.stdin.isatty()

    @functools.cached_property
    def recover(self) -> RecoverOptions:
        """The arguments of recover/restoreonly (--plan, --plan-file, --demo), parsed once."""
        args = self.options.workflow.parse_arguments(self.options.args)
        return RecoverOptions.of(
            plan=getattr(args, "plan", False),
            plan_file=getattr(args, "plan_file", None),
            demo=getattr(args, "demo", None),
        )

    def never_backed_up(self) -> tuple[str, ...]:
        """What this run of rearbuild writes itself and no backup may carry (rearbuild.backup.netfs.own_files):
        the same for every file-level backup method."""
        from rearbuild.backup.netfs import own_files  # imported on first use, as the collect modules above

        return own_files(cache_dir=self.paths.cache_dir, var_dir=self.paths.var_dir, build_dir=self.build_dir,
                         iso_dir=self.text("ISO_DIR"), output_url=self.text("OUTPUT_URL"),
                         output_prefix=self.text("OUTPUT_PREFIX"))  # fmt: skip

    def record_maker(self) -> RecordMaker:
        """The run's RecordMaker for the host, hashing through the cache in CACHE_DIR (one per run)."""
        # imported on first use: recovery in the rescue system never collects, and starts faster without them
        from rearbuild.collect.hashcache import HashCache
        from rearbuild.collect.ldso.disk import DiskTree
        from rearbuild.collect.records import RecordMaker

        if self.state.record_maker is None:
            self.state.record_maker = RecordMaker(DiskTree("/"), HashCache(self.paths.cache_dir / "sha256.json"))
        return self.state.record_maker

    # Reading variables: what a recipe set wins over the configuration files.
    @property
    def settings(self) -> Config:
        """The effective configuration as one read-only object, for the library's settings readers."""
        return self._effective()

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

    def tristate(self, name: str) -> bool | None:
        return self._effective().tristate(name)

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
