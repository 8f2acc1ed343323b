"""Driving QEMU guests from tests: TCG only, an outer timeout on every boot, the serial console as the one
verdict channel (vm-testing-notes.md). A Guest reads the console in a thread and can type commands into
the rescue shell on ttyS0 and read their output and exit status back."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

OVMF = Path("/usr/share/OVMF")
# A guest that never finishes is killed by this, whatever the test does (QEMU that cannot boot hangs).
HARD_LIMIT = 900


def qemu(*extra: str, memory: int = 1024) -> list[str]:
    if shutil.which("qemu-system-x86_64") is None:
        pytest.skip("apt-get install qemu-system-x86")
    # KVM only when asked for: on this project's machines it hangs (vm-testing-notes.md).
    accel = "kvm" if os.environ.get("REARBUILD_TEST_KVM") == "1" else "tcg"
    return ["timeout", str(HARD_LIMIT), "qemu-system-x86_64", "-accel", accel, "-m", str(memory),
            "-nodefaults", "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot",
            *extra]  # fmt: skip


def ovmf(workdir: Path, *, secure: bool = False, nvram: Path | None = None) -> list[str]:
    """OVMF with a writable copy of its variable store in workdir (OVMF_VARS.fd or, with Secure Boot,
    OVMF_VARS.ms.fd): a copy of `nvram` when given (the boot entries an earlier guest wrote), else of OVMF's own."""
    suffix = ".ms" if secure else ""
    code, vars_ = OVMF / f"OVMF_CODE_4M{suffix}.fd", OVMF / f"OVMF_VARS_4M{suffix}.fd"
    if not code.is_file() or not vars_.is_file():
        pytest.skip("apt-get install ovmf")
    writable = workdir / f"OVMF_VARS{suffix}.fd"
    shutil.copyfile(nvram or vars_, writable)
    machine = ["-machine", "q35,smm=on", "-global", "driver=cfi.pflash01,property=secure,value=on"] if secure \
        else ["-machine", "q35"]  # fmt: skip
    return [*machine,
            "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={code}",
            "-drive", f"if=pflash,format=raw,unit=1,file={writable}"]  # fmt: skip


def cdrom(iso: Path) -> list[str]:
    return ["-drive", f"file={iso},media=cdrom,if=ide,readonly=on", "-boot", "d"]


class Guest:
    def __init__(self, argv: Sequence[str], log: Path) -> None:
        self.log = log
        self.started = time.monotonic()
        self._buffer = bytearray()
        self._lock = threading.Lock()
        self._logfile = log.open("wb")
        # its own process group: close() must end QEMU, not only the `timeout` wrapper in front of it
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._counter = 0

    def _read(self) -> None:
        assert self.proc.stdout is not None
        while chunk := self.proc.stdout.read1(65536):  # type: ignore[attr-defined]
            with self._lock:
                self._buffer += chunk
            self._logfile.write(chunk)
            self._logfile.flush()

    @property
    def console(self) -> str:
        with self._lock:
            return self._buffer.decode("utf-8", "replace").replace("\r", "")

    def wait_for(self, pattern: str, timeout: float, *, since: int = 0) -> re.Match[str]:
        """Wait until the regex appears in the console (after offset `since`); fail with the console's tail."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            found = regex.search(self.console, since)
            if found:
                return found
            if time.monotonic() > deadline or self.proc.poll() is not None:
                tail = self.console[-4000:]
                state = "exited" if self.proc.poll() is not None else f"no match within {timeout:.0f} s"
                raise AssertionError(f"{pattern!r}: {state}; console tail:\n{tail}")
            time.sleep(0.1)

    def type(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def shell(self, command: str, timeout: float = 60) -> tuple[int, str]:
        """Run a command in the guest's serial shell; return (exit status, output)."""
        self._counter += 1
        tag = f"RB{self._counter}X"
        since = len(self.console)
        # The markers are built from pieces so the terminal's echo of the command line never matches them.
        self.type(f"echo {tag[:2]}''{tag[2:]}-BEGIN; {command}; echo {tag[:2]}''{tag[2:]}-END-$?\n")
        end = self.wait_for(rf"{tag}-END-(\d+)", timeout, since=since)
        begin = self.wait_for(rf"{tag}-BEGIN\n", 1, since=since)
        output = self.console[begin.end() : end.start()]
        return int(end.group(1)), output

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._reader.join(timeout=5)
        self._logfile.close()


# The owner GUID of the test certificate in db (any GUID: UEFI 2.10 §32.4.1, EFI_SIGNATURE_DATA.SignatureOwner).
TEST_DB_OWNER = "a9a4a1b4-7e0c-4b3e-9d1e-72656172b001"


def ovmf_secure_boot_with(workdir: Path, cert: Path) -> list[str]:
    """OVMF with Secure Boot on (Microsoft keys) and `cert` added to db, in a copy of the variable store
    (virt-fw-vars from virt-firmware); -machine q35,smm=on as Secure Boot needs (vm-testing-notes.md)."""
    code, vars_ = OVMF / "OVMF_CODE_4M.ms.fd", OVMF / "OVMF_VARS_4M.ms.fd"
    assert code.is_file() and vars_.is_file(), "apt-get install ovmf"
    tool = Path(sys.executable).with_name("virt-fw-vars")
    assert tool.is_file(), "pip install virt-firmware"
    enrolled = workdir / "OVMF_VARS_db.fd"
    subprocess.run([str(tool), "--input", str(vars_), "--output", str(enrolled), "--add-db", TEST_DB_OWNER, str(cert)],
                   check=True, capture_output=True)  # fmt: skip
    return ["-machine", "q35,smm=on", "-global", "driver=cfi.pflash01,property=secure,value=on",
            "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={code}",
            "-drive", f"if=pflash,format=raw,unit=1,file={enrolled}"]  # fmt: skip


def esp_disk(path: Path, files: dict[str, Path]) -> list[str]:
    """A FAT EFI system partition in a file (mkfs.vfat + mtools, no mount), whole-disk, attached as a virtio disk:
    files maps paths in the ESP (EFI/BOOT/BOOTX64.EFI) to host files."""
    size_kib = sum(f.stat().st_size for f in files.values()) // 1024 + 8192
    subprocess.run(["mkfs.vfat", "-C", str(path), str(size_kib)], check=True, capture_output=True)
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1", MTOOLSRC="/dev/null")
    made: set[str] = set()
    for target, source in sorted(files.items()):
        parts = target.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            directory = "/".join(parts[:depth])
            if directory not in made:
                subprocess.run(["mmd", "-i", str(path), f"::/{directory}"], check=True, capture_output=True, env=env)
                made.add(directory)
        subprocess.run(["mcopy", "-i", str(path), str(source), f"::/{target}"], check=True, capture_output=True,
                       env=env)  # fmt: skip
    return ["-drive", f"file={path},format=raw,if=virtio"]


def ovmf_http_boot(workdir: Path, uri: str) -> list[str]:
    """OVMF (Secure Boot off) told to boot `uri` once over HTTP (virt-fw-vars --set-boot-uri writes a BootNext
    entry with that URI device path, so QEMU's DHCP need not announce an HTTP boot server), with OVMF's own
    virtio network driver (romfile= keeps iPXE out) on QEMU's user network, where 10.0.2.2 is the host's loopback."""
    vars_ = OVMF / "OVMF_VARS_4M.fd"
    tool = Path(sys.executable).with_name("virt-fw-vars")
    assert tool.is_file(), "pip install virt-firmware"
    store = workdir / "OVMF_VARS_http.fd"
    subprocess.run([str(tool), "--input", str(vars_), "--output", str(store), "--set-boot-uri", uri],
                   check=True, capture_output=True)  # fmt: skip
    return ["-machine", "q35",
            "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF / 'OVMF_CODE_4M.fd'}",
            "-drive", f"if=pflash,format=raw,unit=1,file={store}",
            "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0,romfile="]  # fmt: skip
