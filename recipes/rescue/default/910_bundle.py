"""`rearbuild collect --bundle PATH`: the manifest, its files, the kernel, the configuration as it goes into the
image and the kernel parameters COPY_KERNEL_PARAMETERS copies, as one bundle for `rearbuild build PATH`
(rearbuild.bundle)."""

from __future__ import annotations

from pathlib import Path

from rearbuild.build.generated import blanked_secrets, config_entries
from rearbuild.bundle import write_bundle
from rearbuild.context import Context
from rearbuild.log import notice
from rearbuild.output.signing import signing_keys
from rearbuild.state import required
from rearbuild.workflow import Workflow


def main(ctx: Context) -> None:
    if ctx.options.workflow is not Workflow.COLLECT:
        return
    bundle = ctx.options.workflow.parse_arguments(ctx.options.args).bundle
    if bundle is None:
        return
    write_bundle(
        required(ctx.state.manifest, "the manifest"),
        required(ctx.state.kernel, "the kernel (prep)").path,
        config_entries(
            ctx.paths.config_dir,
            private=signing_keys(ctx.text("UKI_SIGN_KEY")),
            secrets=blanked_secrets(keep_borg_passphrase=ctx.flag("BORGBACKUP_PASSPHRASE_IN_IMAGE")),
        ),
        Path(bundle),
        cmdline=ctx.cmdline.with_keys(ctx.items("COPY_KERNEL_PARAMETERS")),
    )
    notice("bundle: %s", bundle)
