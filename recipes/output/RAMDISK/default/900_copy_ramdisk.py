"""OUTPUT=RAMDISK (ReaR: output/RAMDISK/default/900_copy_ramdisk.sh): the kernel and the initrd only, for a boot
loader or a hypervisor (qemu -kernel/-initrd), named kernel-$RAMDISK_SUFFIX and initramfs-$RAMDISK_SUFFIX.img
(kernel, initrd.cgz without a suffix), in ISO_DIR; 950_copy_result_files publishes them."""

from __future__ import annotations

from pathlib import Path

from rearbuild.context import Context
from rearbuild.log import notice
from rearbuild.output.ramdisk import ramdisk_names, write_ramdisk
from rearbuild.state import required


def main(ctx: Context) -> None:
    manifest = required(ctx.state.manifest, "the manifest")
    initrd = required(ctx.state.initrd, "the initrd")
    kernel = ctx.state.bundle.kernel if ctx.state.bundle else Path(manifest.kernel_file)
    kernel_name, initrd_name = ramdisk_names(ctx.text("RAMDISK_SUFFIX"))
    out = Path(ctx.text("ISO_DIR"))
    written = write_ramdisk({kernel_name: kernel, initrd_name: initrd.path}, out)
    for path, digest in written.items():
        notice("RAMDISK: %s", path)
        ctx.state.result_files.append(path)
        ctx.state.result_digests[path] = digest
