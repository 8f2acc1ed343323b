"""`rearbuild write DEVICE [IMAGE]`: write an ISO or disk image (default: this host's latest result, preferring
a USB or RAWDISK image) to a stick after the refusals and a confirmation, with progress, fsync and a sha256
read-back (rearbuild.output.stickwrite)."""

from __future__ import annotations

from pathlib import Path

from rearbuild.context import Context
from rearbuild.errors import UserError
from rearbuild.log import notice
from rearbuild.output import stickwrite
from rearbuild.output.publish import LATEST, read_latest

BOOTABLE = (".usb.img", ".raw", ".iso")  # in order of preference: made for disks first


def main(ctx: Context) -> None:
    args = ctx.options.workflow.parse_arguments(ctx.options.args)
    if args.image:
        image = Path(args.image)
    else:
        files = read_latest(ctx.paths.var_dir / LATEST)[0]
        found = [f for suffix in BOOTABLE for f in files if f.name.endswith(suffix)]
        if not found:
            raise UserError("this host's latest results hold no bootable image", hint="name the IMAGE to write")
        image = found[0]
    if not image.is_file():
        raise UserError(f"{image} does not exist", hint="name an ISO or disk image file")
    target = stickwrite.inspect(Path(args.device))
    stickwrite.check_target(target, force=args.force)
    stickwrite.check_fits(image, target)
    notice("writing %s to this device; everything on it will be lost:\n%s", image, target.describe())
    stickwrite.confirm(f"Write {image.name} to {target.path}?", assume_yes=args.yes)
    result = stickwrite.write_image(image, target.path, progress=stickwrite.Progress(image.stat().st_size))
    notice("%s: %d bytes written in %.1f s, read back, sha256 %s verified", target.path, result.bytes,
           result.seconds, result.sha256)  # fmt: skip
