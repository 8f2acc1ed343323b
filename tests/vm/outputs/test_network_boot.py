"""OUTPUT=PXE and OUTPUT=RAMDISK, booted for real: a disk-less guest on QEMU's user network, whose TFTP server
serves the tree rearbuild wrote, boots the rescue system with SeaBIOS + pxelinux and with OVMF + GRUB, each finding
the host's configuration by the guest's MAC; QEMU's iPXE ROM runs the iPXE script and loads kernel and initrd over
HTTP; the RAMDISK kernel + initrd boot with qemu -kernel/-initrd. The boot loaders on the TFTP server are the
server's (its admin puts pxelinux.0 or a GRUB net directory there), as with ReaR."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.vm.conftest import _build_image
from tests.vm.outputs.conftest import SMALL, HttpServer, Outputs, tree_digest
from tests.vm.qemu import Guest, ovmf, qemu

pytestmark = [pytest.mark.slow, pytest.mark.vm]

READY = "rearbuild rescue system ready"
BOOT_TIMEOUT = 400  # TCG on a busy machine; TFTP in QEMU's user network moves a 26 MB initrd in tens of seconds
PXELINUX = Path("/usr/lib/PXELINUX/pxelinux.0")
LDLINUX = Path("/usr/lib/syslinux/modules/bios/ldlinux.c32")


def _mac_of(link: str) -> str:
    """01-aa-bb-cc-dd-ee-ff (pxelinux's per-node name) -> aa:bb:cc:dd:ee:ff."""
    return link.removeprefix("grub.cfg-").removeprefix("01-").replace("-", ":")


def _links(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.is_symlink())


def _net(tree: Path, bootfile: str, mac: str) -> list[str]:
    return ["-netdev", f"user,id=n0,tftp={tree},bootfile={bootfile}",
            "-device", f"virtio-net-pci,netdev=n0,mac={mac},bootindex=0"]  # fmt: skip


def _boot(argv: list[str], log: Path, what: str) -> Guest:
    guest = Guest(argv, log)
    try:
        guest.wait_for(READY, BOOT_TIMEOUT)
    except BaseException:
        guest.close()
        raise
    print(f"\n{what}: power-on to '{READY}' in {guest.elapsed():.1f} s")
    return guest


def test_two_builds_of_the_pxe_tree_are_byte_identical(outputs: Outputs) -> None:
    first, second = tree_digest(outputs.bios_first), tree_digest(outputs.bios)
    assert f"{outputs.host}.initrd.cgz" in first and f"pxelinux.cfg/rear-{outputs.host}" in first
    assert first == second


def test_seabios_pxelinux_boots_the_config_of_the_guests_mac(outputs: Outputs, tmp_path: Path) -> None:
    tree = outputs.bios
    links = _links(tree / "pxelinux.cfg")
    assert links, "PXE_CREATE_LINKS=MAC made no link: the host has no Ethernet interface?"
    for server_file in (PXELINUX, LDLINUX):
        shutil.copyfile(server_file, tree / server_file.name)
    # what any other node gets: not this host's rescue system
    (tree / "pxelinux.cfg" / "default").write_text("serial 0 115200\nprompt 0\ndefault other\nlabel other\n"
                                                   "  kernel not-this-host.kernel\n")  # fmt: skip
    guest = _boot(qemu(*_net(tree, "pxelinux.0", _mac_of(links[0]))), tmp_path / "console.log",
                  "SeaBIOS + pxelinux over TFTP")  # fmt: skip
    try:
        # the host's configuration chose the kernel (the default one names another)
        assert f"Loading {outputs.host}.kernel" in guest.console and "not-this-host" not in guest.console
    finally:
        guest.close()
    # another MAC: pxelinux falls back to default, which is not the rescue system
    other = Guest(qemu(*_net(tree, "pxelinux.0", "52:54:00:aa:bb:cc")), tmp_path / "other.log")
    try:
        other.wait_for("not-this-host.kernel", BOOT_TIMEOUT)
        assert f"{outputs.host}.kernel" not in other.console
    finally:
        other.close()


def test_ovmf_grub_boots_the_grub_config_of_the_guests_mac(outputs: Outputs, tmp_path: Path) -> None:
    tree = outputs.uefi
    links = _links(tree / "grub")
    assert links and all(link.startswith("grub.cfg-01-") for link in links), links
    # the server's GRUB: a net directory whose core.efi looks for grub.cfg-01-<MAC> in its prefix, tree/grub
    subprocess.run(["grub-mknetdir", f"--net-directory={tree}", "--subdir=grub", "-d", "/usr/lib/grub/x86_64-efi"],
                   check=True, capture_output=True)  # fmt: skip
    argv = qemu(*ovmf(tmp_path), *_net(tree, "grub/x86_64-efi/core.efi", _mac_of(links[0])))
    guest = _boot(argv, tmp_path / "console.log", "OVMF + GRUB over TFTP")
    try:
        assert f"Relax-and-Recover (rearbuild) {outputs.host}" in guest.console  # the menu entry GRUB booted
    finally:
        guest.close()


def test_ipxe_loads_the_rescue_system_over_http(outputs: Outputs, http_server: HttpServer, tmp_path: Path) -> None:
    script = Path("pxelinux.cfg") / f"rear-{outputs.host}.ipxe"
    assert f"http://10.0.2.2:{http_server.port}/" in (outputs.bios / script).read_text()
    # QEMU's iPXE ROM fetches the script as its boot file over TFTP; kernel and initrd come over HTTP
    guest = _boot(qemu(*_net(outputs.bios, str(script), "52:54:00:12:34:56")), tmp_path / "console.log",
                  "SeaBIOS + iPXE over HTTP")  # fmt: skip
    guest.close()
    assert http_server.served == [f"/{outputs.host}.kernel", f"/{outputs.host}.initrd.cgz"]


def test_ramdisk_kernel_and_initrd_boot_directly(outputs: Outputs, tmp_path: Path) -> None:
    kernel = outputs.ramdisk_out / f"kernel-{outputs.host}"
    initrd = outputs.ramdisk_out / f"initramfs-{outputs.host}.img"
    for result in (kernel, initrd):  # OUTPUT_URL got each result with its sha256, and the log
        line = (result.parent / f"{result.name}.sha256").read_text().split()
        assert line[0] == hashlib.sha256(result.read_bytes()).hexdigest()
    assert list(outputs.ramdisk_out.glob("rear-*.log"))
    argv = qemu("-kernel", str(kernel), "-initrd", str(initrd), "-append", "console=ttyS0,115200")
    guest = _boot(argv, tmp_path / "console.log", "qemu -kernel/-initrd (RAMDISK)")
    guest.close()


def test_cdrom_burns_the_rescue_iso_and_refuses_a_missing_drive(outputs: Outputs) -> None:
    """OUTPUT=CDROM through the command line (the module's cache makes the build a few seconds): the disc in
    xorriso's stdio: pseudo-drive holds the ISO published to OUTPUT_URL; without a drive the run stops in prep,
    before building, with one line naming CDROM_DEVICE."""
    disc = outputs.root / "disc.img"
    out, _ = _build_image(outputs.root, f"OUTPUT=CDROM\n{SMALL}CDROM_DEVICE=stdio:{disc}\n")
    iso = out / f"rear-{outputs.host}.iso"
    assert disc.read_bytes()[: iso.stat().st_size] == iso.read_bytes()
    assert (out / f"{iso.name}.sha256").read_text().split()[0] == hashlib.sha256(iso.read_bytes()).hexdigest()
    iso.unlink()
    (outputs.root / "etc" / "local.conf").write_text(
        f"OUTPUT_URL=file://{outputs.root / 'out'}\nOUTPUT=CDROM\n{SMALL}CDROM_DEVICE=stdio:/nonexistent/disc.img\n"
    )
    root = outputs.root
    # -d: each stage on the terminal as it starts (-v shows them only as a table at the end of a run that finishes)
    argv = [sys.executable, "-m", "rearbuild", "-d", "-c", str(root / "etc"), "--var-dir", str(root / "var"),
            "--log-dir", str(root / "log"), "--tmpdir", str(root / "tmp"), "image"]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "CDROM_DEVICE=stdio:/nonexistent/disc.img: no writable medium" in result.stderr
    assert "stage prep" in result.stderr and "stage pack" not in result.stderr and "Traceback" not in result.stderr
    assert not iso.exists()


def test_legacy_pxe_results_land_at_output_url_and_keep_the_old_copy(outputs: Outputs) -> None:
    """Without PXE_TFTP_URL (ReaR's legacy way) the PXE files are results: at OUTPUT_URL with a sha256 each and the
    log; KEEP_OLD_OUTPUT_COPY moved the previous results (the CDROM test's ISO) to $OUTPUT_PREFIX.old."""
    legacy = outputs.root / "legacy"
    previous = sorted(p.name for p in (outputs.root / "out" / outputs.host).iterdir())
    out, _ = _build_image(outputs.root, f"OUTPUT=PXE\n{SMALL}PXE_TFTP_PATH={legacy}\nPXE_CONFIG_PATH={legacy}\n"
                                        "KEEP_OLD_OUTPUT_COPY=y\n")  # fmt: skip
    names = {f"{outputs.host}.kernel", f"{outputs.host}.initrd.cgz", f"{outputs.host}.message", f"rear-{outputs.host}"}
    for name in names:
        published = out / name
        assert published.read_bytes() == (legacy / name).read_bytes()
        digest = (out / f"{name}.sha256").read_text().split()[0]
        assert digest == hashlib.sha256(published.read_bytes()).hexdigest()
    assert list(out.glob("rear-*.log"))
    assert not any(p.name.endswith(".iso") for p in out.iterdir())
    assert sorted(p.name for p in out.with_name(f"{outputs.host}.old").iterdir()) == previous
