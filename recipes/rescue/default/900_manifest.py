"""Everything collected, as the manifest (rearbuild.manifest). `rearbuild collect -o FILE [--bundle DIR]` writes
it out; mkrescue hands it to the build stage."""

from __future__ import annotations

import logging
from pathlib import Path

from rearbuild import __version__
from rearbuild.collect.kernel import KernelImage
from rearbuild.collect.kmod.image import KernelModules
from rearbuild.collect.records import maker_for
from rearbuild.context import Context
from rearbuild.errors import InternalError
from rearbuild.log import notice
from rearbuild.manifest import FileRecord, Manifest, bundle_files, merge
from rearbuild.workflow import Workflow

log = logging.getLogger("rearbuild.collect")

# Variables that describe this run, not the host: leaving them out keeps two collections byte-identical.
_RUN_SPECIFIC = frozenset(
    {
        "BUILD_DIR",
        "ROOTFS_DIR",
        "TMP_DIR",
        "VERBOSE",
        "DEBUG",
        "SIMULATE",
        "NON_INTERACTIVE",
        "EXPOSE_SECRETS",
        "WORKFLOW",
    }
)
# Secrets that must never reach a rescue image (ReaR: build/default/960_remove_encryption_keys.sh).
_NEVER = frozenset({"BACKUP_PROG_CRYPT_KEY"})


def build_manifest(ctx: Context) -> Manifest:
    kernel = ctx.results.get("kernel")
    modules = ctx.results.get("modules")
    if not isinstance(kernel, KernelImage) or not isinstance(modules, KernelModules):
        raise InternalError("kernel and modules were not collected")
    records: list[FileRecord] = list(ctx.results.get("records", []))
    layout_file = Path(ctx.text("DISKLAYOUT_FILE"))
    layout = layout_file.read_text() if layout_file.is_file() else ""
    # The header's time stamp says when savelayout ran, not what the layout is: two collections of an
    # unchanged host must give the same manifest.
    layout = "".join(line for line in layout.splitlines(keepends=True) if not line.startswith("# Disk layout dated"))
    config = {k: v for k, v in ctx.variables().items() if k not in _RUN_SPECIFIC and k not in _NEVER}
    return Manifest(
        tool_version=__version__,
        facts=ctx.facts.variables() | {"HOSTNAME": ctx.facts.hostname},
        config=config,
        kernel_version=kernel.version,
        kernel_file=str(kernel.path),
        files=merge(records),
        modules_load=modules.load_order,
        layout=layout,
        network=ctx.results.get("network", {}),
        missing={
            "programs": tuple(ctx.results.get("programs_missing", ())),
            "libraries": tuple(ctx.results.get("libraries_unresolved", ())),
            "firmware": tuple(sorted(m.name for m in modules.missing_firmware)),
        },
    )


def main(ctx: Context) -> None:
    manifest = build_manifest(ctx)
    maker_for(ctx).hashes.save()
    ctx.results["manifest"] = manifest
    if ctx.options.workflow != "collect":
        return
    args = Workflow.COLLECT.parse_arguments(ctx.options.args)
    output = Path(args.output) if args.output else ctx.paths.var_dir / "recovery" / "manifest.json"
    manifest.write(output)
    size = sum(f.size for f in manifest.files)
    notice("manifest: %s (%d entries, %.1f MiB of files)", output, len(manifest.files), size / 2**20)
    if args.bundle is not None:
        bundle_files(manifest, Path(args.bundle))
        notice("bundle: %s", args.bundle)
