"""Everything collected, as the manifest (rearbuild.manifest). `rearbuild collect -o FILE` writes it out (and
910_bundle a bundle with --bundle PATH); mkrescue hands it to the build stage."""

from __future__ import annotations

from pathlib import Path

from rearbuild import __version__
from rearbuild.backup.methods import in_image, payload_of
from rearbuild.context import Context
from rearbuild.log import notice
from rearbuild.manifest import Missing, assemble
from rearbuild.state import required
from rearbuild.workflow import Workflow


def main(ctx: Context) -> None:
    kernel = required(ctx.state.kernel, "the kernel (prep)")
    modules = required(ctx.state.modules, "the kernel modules")
    layout_file = Path(ctx.text("DISKLAYOUT_FILE"))
    payload = payload_of(ctx.settings)
    manifest = ctx.state.manifest = assemble(
        tool_version=__version__,
        facts=ctx.facts.variables() | {"HOSTNAME": ctx.facts.hostname},
        config=ctx.variables(),
        kernel_version=kernel.version,
        kernel_file=str(kernel.path),
        records=ctx.state.records,
        modules_load=modules.load_order,
        layout=layout_file.read_text() if layout_file.is_file() else "",
        network=ctx.state.network,
        accounts=ctx.state.accounts,
        missing=Missing(
            ctx.state.programs_missing, ctx.state.libraries_unresolved, tuple(m.name for m in modules.missing_firmware)
        ),
        backup_payload=in_image(payload, ctx.state.records) if payload is not None else None,
    )
    ctx.record_maker().hashes.save()
    if ctx.options.workflow is not Workflow.COLLECT:
        return
    args = ctx.options.workflow.parse_arguments(ctx.options.args)
    output = Path(args.output) if args.output else ctx.paths.recovery_dir / "manifest.json"
    manifest.write(output)
    notice("manifest: %s (%d entries, %.1f MiB of files)", output, len(manifest.files), manifest.size / 2**20)
