"""OUTPUT=UKI through the real command line (ReaR's EFI_STUB=y spelling): prep accepts the method, the signed
rear-$HOSTNAME.efi is published beside its sha256 and the log, sbverify accepts it; the signing key, kept in the
configuration directory as users do with /etc/rear, is in no byte of the image, its initrd, the log or a bundle;
a missing stub or key stops prep with one line naming the fix, before anything is built."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pefile
import pytest

from rearbuild.facts import short_hostname

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Built:
    root: Path
    uki: Path
    key: Path
    cert: Path
    bundle: Path


def _run(root: Path, local: str, *args: str) -> subprocess.CompletedProcess[str]:
    etc = root / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "local.conf").write_text(f"OUTPUT_URL=file://{root}/out\n{local}")
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    argv = [sys.executable, "-m", "rearbuild", "-c", str(etc), "--var-dir", str(root / "var"),
            "--log-dir", str(root / "log"), "--tmpdir", str(root / "tmp"), *args]  # fmt: skip
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("uki-cli")
    keys = root / "etc" / "keys"
    keys.mkdir(parents=True)
    key, cert = keys / "uki.key", keys / "uki.crt"
    argv = ["openssl", "req", "-new", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert]
    subprocess.run([*argv, "-days", "3650", "-subj", "/CN=rearbuild UKI test"], check=True, capture_output=True)
    local = f"EFI_STUB=y\nUKI_SIGN_KEY={key}\nUKI_SIGN_CERT={cert}\n"
    result = _run(root, local, "-v", "image")
    assert result.returncode == 0, result.stderr[-3000:]
    bundle = root / "bundle.tar"
    result = _run(root, local, "collect", "--bundle", str(bundle))
    assert result.returncode == 0, result.stderr[-3000:]
    host = short_hostname()
    return Built(root, root / "out" / host / f"rear-{host}.efi", key, cert, bundle)


def _key_body(key: Path) -> bytes:
    """A line from the middle of the PEM key: unmistakably the key, whatever surrounds it."""
    lines = key.read_bytes().splitlines()
    return lines[len(lines) // 2]


ZSTD_MAGIC = bytes.fromhex("28b52ffd")  # RFC 8878 §3.1.1: every zstd frame starts with it


def _unpack(initrd: bytes) -> list[bytes]:
    """The initrd's cpio: its zstd segments one after another, each padded with zeros to 4 bytes (the kernel's
    rule for concatenated initramfs archives)."""
    starts: list[int] = []
    at = 0
    while (found := initrd.find(ZSTD_MAGIC, at)) >= 0:
        starts.append(found)
        at = found + 1
    plain: list[bytes] = []
    for begin, end in zip(starts, [*starts[1:], len(initrd)], strict=True):
        chunk = initrd[begin:end]
        for pad in range(4):  # the padding is 0-3 zero bytes; a frame may itself end with zeros
            result = subprocess.run(["zstd", "-dcq"], input=chunk[: len(chunk) - pad], capture_output=True)
            if result.returncode == 0:
                plain.append(result.stdout)
                break
        else:
            raise AssertionError(f"the initrd segment at {begin} is not zstd")
    return plain


def test_the_signed_uki_is_published_and_verifies(built: Built) -> None:
    assert built.uki.is_file(), sorted(built.uki.parent.parent.rglob("*"))
    digest, name = (built.uki.parent / f"{built.uki.name}.sha256").read_text().split()
    assert name == built.uki.name and digest == hashlib.sha256(built.uki.read_bytes()).hexdigest()
    ok = subprocess.run(["sbverify", "--cert", str(built.cert), str(built.uki)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    sections = {s.Name.rstrip(b"\0") for s in pefile.PE(str(built.uki), fast_load=True).sections}
    assert {b".osrel", b".cmdline", b".initrd", b".linux"} <= sections


def test_the_key_is_in_no_byte_of_the_image_the_initrd_the_log_or_the_bundle(built: Built, tmp_path: Path) -> None:
    body = _key_body(built.key)
    assert body not in built.uki.read_bytes()
    pe = pefile.PE(str(built.uki), fast_load=True)
    initrd = next(s for s in pe.sections if s.Name.rstrip(b"\0") == b".initrd")
    segments = _unpack(initrd.get_data()[: initrd.Misc_VirtualSize])
    listing = "".join(
        subprocess.run(["cpio", "-t", "--quiet"], input=s, check=True, capture_output=True).stdout.decode()
        for s in segments
    )
    assert "etc/rear/local.conf" in listing and "etc/rear/keys/uki.crt" in listing  # the configuration went in
    assert "uki.key" not in listing and all(body not in s for s in segments)
    logs = list((built.root / "log").rglob("*")) + list((built.root / "out").rglob("*.log"))
    assert logs
    for log in logs:
        if log.is_file():
            assert body not in log.read_bytes(), log
    assert body not in built.bundle.read_bytes()


def test_a_missing_stub_stops_prep_naming_the_package(tmp_path: Path) -> None:
    result = _run(tmp_path, f"OUTPUT=UKI\nUKI_STUB={tmp_path}/linuxx64.efi.stub\n", "image")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "EFI stub" in result.stderr and "systemd-boot-efi" in result.stderr, result.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "var" / "output").exists()


def test_a_missing_key_stops_prep_naming_the_setting(tmp_path: Path) -> None:
    result = _run(tmp_path, f"OUTPUT=UKI\nUKI_SIGN_KEY={tmp_path}/none.key\nUKI_SIGN_CERT={tmp_path}/none.crt\n",
                  "image")  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"UKI_SIGN_KEY={tmp_path}/none.key: cannot read it" in result.stderr, result.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "var" / "output").exists()
