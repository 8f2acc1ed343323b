"""The rescue rootfs: the manifest's files, the skel/ layers, the generated files (see rearbuild.build.rootfs)."""

from __future__ import annotations

from rearbuild.build.cpio import Entry
from rearbuild.build.generated import generated_entries
from rearbuild.build.rootfs import BASE_DIRS, BASE_NODES, Rootfs, manifest_entries, skel_entries
from rearbuild.collect.kmod.image import KernelModules
from rearbuild.context import Context
from rearbuild.errors import InternalError
from rearbuild.layers import skel_layers
from rearbuild.manifest import Manifest, sources
from rearbuild.paths import PACKAGE_DIR


def main(ctx: Context) -> None:
    manifest = ctx.results.get("manifest")
    if not isinstance(manifest, Manifest):
        raise InternalError("the build stage has no manifest")
    modules = ctx.results.get("modules")
    load = modules.load_order if isinstance(modules, KernelModules) else manifest.modules_load
    epoch = ctx.epoch
    rootfs = Rootfs.empty()
    rootfs.extend(Entry.directory(d, 0o1777 if d == "tmp" else 0o755) for d in BASE_DIRS)
    rootfs.extend(BASE_NODES)
    rootfs.extend(manifest_entries(manifest, sources(manifest, None)))
    variables = {k: v for k, v in ctx.variables().items() if isinstance(v, str)}
    rootfs.extend(
        skel_entries(ctx.paths.share_dir / "skel", skel_layers(variables, ctx.text("BACKUP"), ctx.text("OUTPUT")))
    )
    rootfs.extend(
        generated_entries(
            manifest=manifest,
            config_dir=ctx.paths.config_dir,
            share_dir=ctx.paths.share_dir,
            package_dir=PACKAGE_DIR,
            epoch=epoch,
            modules_load=load,
            rescue_variables={"KERNEL_VERSION": manifest.kernel_version},
        )
    )
    ctx.results["rootfs"] = rootfs
