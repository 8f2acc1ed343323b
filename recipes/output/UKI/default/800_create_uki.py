"""The unified kernel image (OUTPUT=UKI, ReaR's EFI_STUB=y): systemd's EFI stub + the rescue kernel, initrd, command
line and os-release in one PE binary, signed with sbsign when UKI_SIGN_KEY/UKI_SIGN_CERT are set. Written to
$ISO_DIR/$ISO_PREFIX.efi (rear-$HOSTNAME.efi) beside the other results; the work is rearbuild.output.uki."""

from __future__ import annotations

from pathlib import Path

from rearbuild import __version__
from rearbuild.context import Context
from rearbuild.log import notice
from rearbuild.output.rescue_iso import kernel_cmdline
from rearbuild.output.signing import SigningKey
from rearbuild.output.uki import build_uki, find_stub, os_release, signed_copy
from rearbuild.state import required


def main(ctx: Context) -> None:
    manifest = required(ctx.state.manifest, "the manifest")
    initrd = required(ctx.state.initrd, "the initrd")
    out = Path(ctx.text("ISO_DIR")) / f"{ctx.text('ISO_PREFIX')}.efi"
    cmdline = kernel_cmdline(ctx.settings, ctx.cmdline)
    image = build_uki(
        out,
        stub=find_stub(ctx.text("UKI_STUB")),
        kernel=ctx.state.bundle.kernel if ctx.state.bundle else Path(manifest.kernel_file),
        initrd=initrd.path,
        cmdline=" ".join(cmdline),
        osrel=os_release(manifest.facts.get("HOSTNAME", "rescue"), __version__),
        uname=manifest.kernel_version,
        splash=Path(ctx.text("UKI_SPLASH")) if ctx.text("UKI_SPLASH").strip() else None,
    )
    key = SigningKey.from_settings(ctx.text("UKI_SIGN_KEY"), ctx.text("UKI_SIGN_CERT"))
    if key is not None:
        image = signed_copy(image, key.sign)
    notice("UKI: %s (%.1f MiB%s)", image.path, image.size / 2**20, ", signed" if image.signed else "")
    ctx.state.result_files.append(image.path)
    ctx.state.result_digests[image.path] = image.sha256
