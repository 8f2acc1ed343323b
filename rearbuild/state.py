"""The typed run state: what one stage's recipes produce for later stages, one field per result.

Recipes are glue: they read settings, call the library and store what it returned here. A field that is None has
not been produced yet; `required` turns using it too early into a bug report that names it, instead of an
AttributeError far away. The library never sees this object (DESIGN.md: the library does not know the run).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rearbuild.errors import InternalError

if TYPE_CHECKING:  # annotations only: the rescue system starts faster without importing every stage's modules
    from rearbuild.backup.directories import DirEntry
    from rearbuild.build.initrd import InitrdResult
    from rearbuild.build.rootfs import Rootfs
    from rearbuild.bundle import Bundle
    from rearbuild.collect.disk.capture import Capture
    from rearbuild.collect.kernel import KernelImage
    from rearbuild.collect.kmod.image import KernelModules
    from rearbuild.collect.python import PythonRuntime
    from rearbuild.collect.records import RecordMaker
    from rearbuild.layout.model import Layout
    from rearbuild.manifest import FileRecord, Manifest
    from rearbuild.recover.plan import Plan

T = TypeVar("T")


def required(value: T | None, what: str) -> T:
    """`value`, which an earlier stage must have produced; None is a bug in the order of recipes."""
    if value is None:
        raise InternalError(f"{what} is used before a recipe produced it")
    return value


@dataclass
class RunState:
    # ---- collect (prep, rescue) ----
    kernel: KernelImage | None = None
    modules: KernelModules | None = None
    python: PythonRuntime | None = None
    network: dict[str, Any] = field(default_factory=dict)  # collect.network's JSON-shaped facts
    accounts: dict[str, list[str]] = field(default_factory=dict)  # CLONE_USERS/CLONE_GROUPS: collect.accounts
    records: list[FileRecord] = field(default_factory=list)  # manifest records, in the order recipes add them
    executables: list[str] = field(default_factory=list)  # files whose libraries the image needs too
    programs_missing: tuple[str, ...] = ()
    libraries_unresolved: tuple[str, ...] = ()
    record_maker: RecordMaker | None = None  # one per run: it holds the hash cache
    manifest: Manifest | None = None
    # ---- layout/save, layout/compare ----
    layout: Layout | None = None  # the layout captured on this host
    layout_capture: Capture | None = None  # the raw facts behind it, for companion files
    layout_file: Path | None = None  # where layout/save wrote disklayout.conf
    # ---- build, pack, output ----
    bundle: Bundle | None = None  # `rearbuild build PATH`: the verified bundle the image is built from
    rootfs: Rootfs | None = None
    initrd: InitrdResult | None = None
    iso_files: dict[str, Path] = field(default_factory=dict)  # ISO path -> host file (BACKUP_URL=iso://)
    result_files: list[Path] = field(default_factory=list)  # ReaR's RESULT_FILES: published at the end
    result_digests: dict[Path, str] = field(default_factory=dict)  # sha256 of results hashed while written
    # ---- recovery ----
    recover_layout: Layout | None = None  # the layout to recreate, after mappings and exclusions
    recover_plan: Plan | None = None
    device_mappings: dict[str, str] = field(default_factory=dict)  # old disk -> new disk (mapping files)
    stop_after_plan: bool = False  # `recover --plan` printed the plan: later recipes do nothing
    finalize_root: Path | None = None  # the restored system, once something was restored
    identities_changed: bool = False
    bootloader_installed: bool = False
    # ---- backup methods ----
    backup_archive: Path | None = None  # written (mkbackup) or checked (verify)
    restored_directories: tuple[DirEntry, ...] = ()  # directories to recreate after the restore
    restored_includes: tuple[str, ...] | None = None  # what the restored archive held (None: unknown)
    borg_archives: tuple[str, ...] | None = None  # BACKUP=BORG: the repository's archives, as prep listed them
    borg_archive: str | None = None  # BACKUP=BORG: the archive verify chose to restore
    restore_selection: tuple[str, ...] = ()  # what verify chose for a vendor method (TSM file spaces, DP session)
    crypt_key: str = field(default="", repr=False)  # typed in by the operator during recovery; never logged
    # ---- the end ----
    exit_status: int = 0
    # ReaR's EXIT_TASKS: run (in order) when a workflow fails, e.g. POST_BACKUP_SCRIPT once PRE_BACKUP_SCRIPT ran
    exit_tasks: dict[str, Callable[[], None]] = field(default_factory=dict)
