"""The rescue system of this machine built once per module for the network and plain-file outputs: OUTPUT=PXE
twice in pxelinux style (the second for the byte-identical check), once in GRUB style, OUTPUT=RAMDISK, all with
one cache (the first build takes tens of seconds, the others a few). A small module list keeps the initrd that
TFTP must carry at ~26 MB."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rearbuild.facts import short_hostname
from tests.vm.conftest import _build_image

# Only what a network boot in QEMU needs: the virtio NIC (the rescue system brings it up) and its bus.
SMALL = "MODULES=( virtio_pci virtio_net )\n"


@dataclass(frozen=True)
class Outputs:
    root: Path
    host: str
    bios: Path  # the pxelinux tree (PXE_TFTP_URL), pxelinux.cfg/ below it
    bios_first: Path  # the same tree from the build before (moved aside)
    uefi: Path  # the GRUB-style tree, grub/ below it
    www: Path  # PXE_HTTP_UPLOAD_URL
    http_port: int  # PXE_HTTP_DOWNLOAD_URL is http://10.0.2.2:<port> (QEMU's user network: the host's loopback)
    ramdisk_out: Path  # OUTPUT_URL/$HOSTNAME of the OUTPUT=RAMDISK build
    build_logs: dict[str, str]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pxe(root: Path, tree: str, config: str, extra: str = "") -> str:
    return (f"OUTPUT=PXE\n{SMALL}PXE_TFTP_URL=file://{root / tree}\nPXE_CONFIG_URL=file://{root / tree / config}\n"
            f"PXE_RECOVER_MODE=manual\n{extra}")  # fmt: skip


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Outputs:
    root = tmp_path_factory.mktemp("outputs")
    port = _free_port()
    http = f"PXE_HTTP_DOWNLOAD_URL=http://10.0.2.2:{port}\nPXE_HTTP_UPLOAD_URL=file://{root / 'www'}\n"
    logs = {}
    # the same configuration twice (the rescue system carries it): the first tree is moved aside in between
    _, logs["pxe-first"] = _build_image(root, _pxe(root, "bios", "pxelinux.cfg", http))
    (root / "bios").rename(root / "bios-first")
    _, logs["pxe"] = _build_image(root, _pxe(root, "bios", "pxelinux.cfg", http))
    _, logs["grub"] = _build_image(root, _pxe(root, "uefi", "grub", "PXE_CONFIG_GRUB_STYLE=y\n"))
    out, logs["ramdisk"] = _build_image(root, f"OUTPUT=RAMDISK\n{SMALL}")
    return Outputs(root, short_hostname(), root / "bios", root / "bios-first", root / "uefi", root / "www", port,
                   out, logs)  # fmt: skip


def tree_digest(top: Path) -> dict[str, str]:
    """Every entry below top: a file's mode and sha256, a link's target."""
    found = {}
    for path in sorted(top.rglob("*")):
        name = str(path.relative_to(top))
        if path.is_symlink():
            found[name] = "-> " + os.readlink(path)
        elif path.is_file():
            found[name] = f"{path.stat().st_mode & 0o7777:o} {hashlib.sha256(path.read_bytes()).hexdigest()}"
    return found


@dataclass
class HttpServer:
    port: int
    served: list[str]  # the paths of the GET requests answered with 200, in order


@pytest.fixture(scope="module")
def http_server(outputs: Outputs) -> Iterator[HttpServer]:
    """python's http.server on 127.0.0.1 serving PXE_HTTP_UPLOAD_URL, at the port the build was told; it records
    what it served."""
    record = HttpServer(outputs.http_port, [])

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            if str(code) == "200":
                record.served.append(self.path)

    handler = functools.partial(Handler, directory=str(outputs.www))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", outputs.http_port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield record
    server.shutdown()
    server.server_close()
