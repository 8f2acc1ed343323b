"""The rescue system as a unified kernel image (OUTPUT=UKI / EFI_STUB=y) boots under OVMF, loaded three ways:
by the firmware itself as \\EFI\\BOOT\\BOOTX64.EFI on an ESP disk, with Secure Boot off and on (signed with a test
key enrolled in db), and by systemd-boot from EFI/Linux/. With Secure Boot on, the unsigned UKI is refused by the
firmware: the console shows the refusal and never the rescue banner, while the signed one, on the very same
firmware and variable store, boots and the EFI stub reports Secure Boot enabled (so the refusal is enforcement,
not a broken image: the same unsigned UKI boots with Secure Boot off); and by the firmware over HTTP boot."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.vm.conftest import UkiImages
from tests.vm.qemu import Guest, esp_disk, ovmf, ovmf_http_boot, ovmf_secure_boot_with, qemu

pytestmark = [pytest.mark.slow, pytest.mark.vm]

READY = "rearbuild rescue system ready"
BOOT_TIMEOUT = 240  # TCG; Secure Boot OVMF (SMM) is slow and a UKI carries the whole ~60 MB initrd
SYSTEMD_BOOT = Path("/usr/lib/systemd/boot/efi/systemd-bootx64.efi")
FALLBACK = "EFI/BOOT/BOOTX64.EFI"  # UEFI 2.10 §3.5.1.1, the removable media boot path for x64


def _boots(argv: list[str], log: Path, what: str, timeout: float = BOOT_TIMEOUT) -> Guest:
    guest = Guest(argv, log)
    try:
        guest.wait_for(READY, timeout)
    except BaseException:
        guest.close()
        raise
    print(f"\n{what}: power-on to '{READY}' in {guest.elapsed():.1f} s")
    return guest


def test_the_uki_boots_directly_from_the_firmware_secure_boot_off(uki_images: UkiImages, tmp_path: Path) -> None:
    disk = esp_disk(tmp_path / "esp.img", {FALLBACK: uki_images.unsigned})
    guest = _boots(qemu(*ovmf(tmp_path), *disk), tmp_path / "console.log", "OVMF, firmware loads the UKI")
    try:
        assert "EFI stub: Loaded initrd" in guest.console  # the stub, not a boot loader, started the kernel
        guest.wait_for(r"RESCUE [^\n]*# ", 30)
        status, out = guest.shell("cat /proc/cmdline")
        assert status == 0 and "console=ttyS0,115200" in out, out  # the .cmdline section
    finally:
        guest.close()


def test_the_signed_uki_boots_with_secure_boot_on(uki_images: UkiImages, tmp_path: Path) -> None:
    disk = esp_disk(tmp_path / "esp.img", {FALLBACK: uki_images.signed})
    firmware = ovmf_secure_boot_with(tmp_path, uki_images.cert)
    guest = _boots(qemu(*firmware, *disk), tmp_path / "console.log", "OVMF Secure Boot, signed UKI")
    try:
        assert "EFI stub: UEFI Secure Boot is enabled." in guest.console, guest.console[-3000:]
    finally:
        guest.close()


def test_the_unsigned_uki_is_refused_with_secure_boot_on(uki_images: UkiImages, tmp_path: Path) -> None:
    disk = esp_disk(tmp_path / "esp.img", {FALLBACK: uki_images.unsigned})
    firmware = ovmf_secure_boot_with(tmp_path, uki_images.cert)
    guest = Guest(qemu(*firmware, *disk), tmp_path / "console.log")
    try:
        # OVMF tries the disk, is denied, tries its shell (not signed by db either), then gives up
        guest.wait_for(r"No bootable option or device was found", BOOT_TIMEOUT)
        console = guest.console
        print(f"\nOVMF Secure Boot, unsigned UKI: refused after {guest.elapsed():.1f} s")
        assert "Access Denied" in console or "Security Violation" in console, console[-3000:]
        assert READY not in console and "EFI stub" not in console and "Linux version" not in console
    finally:
        guest.close()


def test_systemd_boot_starts_the_uki_from_efi_linux(uki_images: UkiImages, tmp_path: Path) -> None:
    assert SYSTEMD_BOOT.is_file(), "apt-get install systemd-boot-efi"
    # The firmware only starts systemd-boot; the UKI is found by systemd-boot alone (Boot Loader Specification
    # type #2 entry: EFI/Linux/*.efi with an .osrel section), so the banner proves systemd-boot loaded it.
    files = {FALLBACK: SYSTEMD_BOOT, f"EFI/Linux/{uki_images.unsigned.name}": uki_images.unsigned}
    guest = _boots(qemu(*ovmf(tmp_path), *esp_disk(tmp_path / "esp.img", files)), tmp_path / "console.log",
                   "OVMF, systemd-boot loads the UKI")  # fmt: skip
    guest.close()


class _Handler(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def log_message(self, format: str, *args: object) -> None:
        self.requests.append(self.requestline)


@pytest.fixture(scope="session")
def uki_http_server(uki_images: UkiImages) -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on 127.0.0.1 (a free port) serving the UKIs' directory; its base URL as the guest sees the
    host (QEMU user network: 10.0.2.2), and the request lines it served."""
    requests: list[str] = []
    handler = type("Handler", (_Handler,), {"requests": requests})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(uki_images.unsigned.parent))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://10.0.2.2:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_the_firmware_boots_the_uki_over_http(
    uki_images: UkiImages, uki_http_server: tuple[str, list[str]], tmp_path: Path
) -> None:
    base, requests = uki_http_server
    name = uki_images.unsigned.name
    firmware = ovmf_http_boot(tmp_path, f"{base}/{name}")
    # no disk at all; OVMF's HTTP client under TCG needs ~100 s for the ~65 MB image (measured: 140 s to the banner)
    guest = _boots(qemu(*firmware), tmp_path / "console.log", "OVMF HTTP boot", timeout=480)
    try:
        assert f"GET /{name} HTTP/1.1" in requests, requests
        assert "Start HTTP Boot" in guest.console and "EFI stub: Loaded initrd" in guest.console
    finally:
        guest.close()
