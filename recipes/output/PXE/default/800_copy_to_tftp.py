"""OUTPUT=PXE (ReaR: output/PXE/default/800_copy_to_tftp.sh, 810_create_pxelinux_cfg.sh): kernel and initrd to the
TFTP tree (and PXE_HTTP_UPLOAD_URL), the host's pxelinux or GRUB configuration (and an iPXE script for HTTP) from
images/pxe/ ($CONFIG_DIR/templates/pxe/ overrides), links per MAC or IP. In the legacy way (no PXE_TFTP_URL) the
files are results, copied to OUTPUT_URL by 950_copy_result_files as in ReaR. The work is rearbuild.output.pxe."""

from __future__ import annotations

from pathlib import Path

from rearbuild import __version__
from rearbuild.context import Context
from rearbuild.log import notice
from rearbuild.output.pxe import VARIABLES, PxeTemplates, settings_from, write_pxe
from rearbuild.output.rescue_iso import rescue_cmdline
from rearbuild.state import required


def main(ctx: Context) -> None:
    manifest = required(ctx.state.manifest, "the manifest")
    initrd = required(ctx.state.initrd, "the initrd")
    cmdline = rescue_cmdline(ctx.items("KERNEL_CMDLINE"), ctx.cmdline.with_keys(ctx.items("COPY_KERNEL_PARAMETERS")))
    settings = settings_from({name: ctx.text(name) for name in VARIABLES}, cmdline)
    tree = write_pxe(
        settings,
        kernel=ctx.state.bundle.kernel if ctx.state.bundle else Path(manifest.kernel_file),
        initrd=initrd.path,
        templates=PxeTemplates(ctx.paths.share_dir / "images" / "pxe", ctx.paths.config_dir / "templates" / "pxe"),
        interfaces=manifest.network.get("interfaces", ()),
        version_info=f"Relax-and-Recover (rearbuild {__version__}) rescue system of {settings.hostname}, "
        f"kernel {manifest.kernel_version}\n",
    )
    notice("PXE: %s in %s, configuration %s, links: %s", settings.kernel, settings.tftp_dir, tree.config,
           " ".join(tree.links) or "none")  # fmt: skip
    if not settings.url_style:
        ctx.state.result_files.extend(tree.files)
        ctx.state.result_digests.update(tree.digests)
