"""The rescue rootfs: the manifest's files, the skel/ layers, the generated files (see rearbuild.build.compose)."""

from __future__ import annotations

from rearbuild.build.compose import compose
from rearbuild.build.generated import blanked_secrets, config_entries
from rearbuild.context import Context
from rearbuild.layers import skel_layers
from rearbuild.output.signing import signing_keys
from rearbuild.paths import PACKAGE_DIR
from rearbuild.state import required


def main(ctx: Context) -> None:
    manifest = required(ctx.state.manifest, "the manifest")
    bundle = ctx.state.bundle  # `rearbuild build`: the host's files and configuration come from its bundle
    secrets = blanked_secrets(keep_borg_passphrase=ctx.flag("BORGBACKUP_PASSPHRASE_IN_IMAGE"))
    config = (
        bundle.config
        if bundle
        else config_entries(ctx.paths.config_dir, signing_keys(ctx.text("UKI_SIGN_KEY")), secrets)
    )
    variables = {k: v for k, v in ctx.variables().items() if isinstance(v, str)}
    ctx.state.rootfs = compose(
        manifest,
        skel_dir=ctx.paths.share_dir / "skel",
        skel_layers=skel_layers(variables, ctx.text("BACKUP"), ctx.text("OUTPUT")),
        config=config,
        share_dir=ctx.paths.share_dir,
        package_dir=PACKAGE_DIR,
        epoch=ctx.epoch,
        modules_load=ctx.state.modules.load_order if ctx.state.modules else manifest.modules_load,
        bundle=bundle.root if bundle else None,
        links=bundle.links if bundle else None,
    )
