"""The EFI boot image (rearbuild.output.efi): its size follows its content within El Torito's limit."""

from __future__ import annotations

from rearbuild.output.efi import MAX_IMAGE_BYTES, image_size_kib


def test_efi_image_size_grows_with_content_and_stays_within_el_torito() -> None:
    small = image_size_kib({"EFI/BOOT/BOOTX64.EFI": b"x" * 1000})
    big = image_size_kib({"EFI/BOOT/BOOTX64.EFI": b"x" * 4_000_000})
    assert small % 64 == 0 and big % 64 == 0
    assert small < big < MAX_IMAGE_BYTES // 1024
    assert big * 1024 > 4_000_000
