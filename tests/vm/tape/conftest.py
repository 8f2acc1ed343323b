"""A real tape interface for the tape tests: Debian's tgt exports virtual SSC tape drives over iSCSI on
127.0.0.1, QEMU's own iSCSI initiator (qemu-block-extra) passes them to the guest as SCSI devices on a
virtio-scsi controller, and the guest's st driver makes them /dev/nst0, /dev/nst1. tgtd runs in the
foreground, started and stopped by this session fixture (no systemd), with its own control socket."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.vm.conftest import _build_image

IQN = "iqn.2026-11.org.rearbuild:tape"
TAPE_MB = 256  # each cartridge's capacity (tgtimg --size, MB); the backing file grows as data is written
CARTRIDGES = ("REAR0001", "REAR0002")  # LUN 1 -> /dev/nst0 (OBDR), LUN 2 -> /dev/nst1 (plain tape)


@dataclass(frozen=True)
class TapeTarget:
    port: int
    media: tuple[Path, ...]  # tgt's backing files, LUN 1, 2, ...

    def qemu_args(self) -> list[str]:
        """virtio-scsi with one scsi-generic device per LUN, reached through QEMU's libiscsi initiator."""
        args = ["-device", "virtio-scsi-pci,id=scsi0"]
        for lun in range(1, len(self.media) + 1):
            url = f"iscsi://127.0.0.1:{self.port}/{IQN}/{lun}"
            args += ["-drive", f"file={url},if=none,id=tape{lun},format=raw",
                     "-device", f"scsi-generic,drive=tape{lun}"]  # fmt: skip
        return args


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _tgtadm(control: int, *args: str) -> None:
    subprocess.run(["tgtadm", "-C", str(control), "--lld", "iscsi", *args], check=True, capture_output=True,
                   timeout=30)  # fmt: skip


@pytest.fixture(scope="session")
def tape_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TapeTarget]:
    root = tmp_path_factory.mktemp("tgt")
    media = tuple(root / f"{barcode}.img" for barcode in CARTRIDGES)
    for barcode, path in zip(CARTRIDGES, media, strict=True):
        argv = ["tgtimg", "--op", "new", "--device-type", "tape", "--barcode", barcode, "--size", str(TAPE_MB),
                "--type", "data", "--file", str(path)]  # fmt: skip
        subprocess.run(argv, check=True, capture_output=True)
    port = _free_port()
    # tgtd's management socket is /var/run/tgtd/socket.<control port> (a number below 32768): one nobody else uses
    control = next(c for c in range(port % 12000 + 20000, 32768) if not Path(f"/var/run/tgtd/socket.{c}").exists())
    log = open(root / "tgtd.log", "wb")  # noqa: SIM115 -- open for the daemon's lifetime
    daemon = subprocess.Popen(["tgtd", "-f", "-C", str(control), "--iscsi", f"portal=127.0.0.1:{port}"],
                              stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not Path(f"/var/run/tgtd/socket.{control}").exists():
            assert daemon.poll() is None and time.monotonic() < deadline, (root / "tgtd.log").read_text()
            time.sleep(0.1)
        _tgtadm(control, "--mode", "target", "--op", "new", "--tid", "1", "--targetname", IQN)
        for lun, path in enumerate(media, start=1):
            _tgtadm(control, "--mode", "logicalunit", "--op", "new", "--tid", "1", "--lun", str(lun),
                    "--device-type", "tape", "--bstype", "ssc", "--backing-store", str(path))  # fmt: skip
        _tgtadm(control, "--mode", "target", "--op", "bind", "--tid", "1", "--initiator-address", "127.0.0.1")
        yield TapeTarget(port, media)
    finally:
        # tgtd does not end on SIGTERM while it has targets (measured); its media are scratch files: kill it
        daemon.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            daemon.wait(1)
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        log.close()


@dataclass(frozen=True)
class TapeImage:
    iso: Path


@pytest.fixture(scope="session")
def tape_rescue_image(tmp_path_factory: pytest.TempPathFactory) -> TapeImage:
    """The rescue image of this machine with BACKUP=NETFS to a tape: it carries mt, dd and the st driver."""
    root = tmp_path_factory.mktemp("tape-image")
    output_dir, _ = _build_image(root, "OUTPUT=ISO\nISO_DEFAULT=manual\nISO_SYSLINUX_TIMEOUT=10\n"
                                       "BACKUP=NETFS\nBACKUP_URL=tape:///dev/nst0\n")  # fmt: skip
    return TapeImage(next(output_dir.glob("*.iso")))
