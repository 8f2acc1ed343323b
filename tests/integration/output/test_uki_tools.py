"""The UKI checked with tools that are not pefile: objdump reads the section table at the VMAs expected, sbsign signs
it through rearbuild.run and sbverify accepts the signature with the certificate (and refuses another one); a stub
signed by sbsign is refused; a key sbsign cannot use is a clear error naming the setting."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from rearbuild.errors import UserError
from rearbuild.output.signing import SigningKey
from rearbuild.output.uki import STUB_PATH, UkiImage, build_uki, os_release, signed_copy

pytestmark = pytest.mark.slow

KERNEL = sorted(Path("/boot").glob("vmlinuz-*"))


def _keypair(directory: Path, name: str) -> SigningKey:
    key, cert = directory / f"{name}.key", directory / f"{name}.crt"
    subj = f"/CN=rearbuild test {name}"
    argv = ["openssl", "req", "-new", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert]
    subprocess.run([*argv, "-days", "3650", "-subj", subj], check=True, capture_output=True)
    return SigningKey(key, cert)


def _uki(tmp_path: Path, name: str = "rear.efi", stub: Path = STUB_PATH) -> UkiImage:
    assert KERNEL, "no kernel in /boot (apt-get install linux-image-amd64)"
    initrd = tmp_path / "initrd"
    initrd.write_bytes(b"070701" + bytes(300_000))
    return build_uki(tmp_path / name, stub=stub, kernel=KERNEL[-1], initrd=initrd, cmdline="console=ttyS0",
                     osrel=os_release("host", "0.1"), uname="6.1")  # fmt: skip


def _objdump(path: Path) -> dict[str, tuple[int, int, int]]:
    """name -> (size, VMA, file offset) as objdump -h reads them."""
    out = subprocess.run(["objdump", "-h", str(path)], check=True, capture_output=True, text=True).stdout
    rows = re.findall(r"^\s*\d+\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)", out, re.M)
    return {name: (int(size, 16), int(vma, 16), int(off, 16)) for name, size, vma, off in rows}


def test_objdump_shows_the_sections_at_the_expected_vmas(tmp_path: Path) -> None:
    image = _uki(tmp_path)
    stub, uki = _objdump(STUB_PATH), _objdump(image.path)
    assert all(uki[name] == stub[name] for name in stub), "the stub's sections moved"
    added = [name for name in uki if name not in stub]
    assert added == [".osrel", ".cmdline", ".initrd", ".linux"]
    dump = subprocess.run(["objdump", "-p", str(STUB_PATH)], check=True, capture_output=True, text=True).stdout
    found = re.search(r"^SizeOfImage\s+([0-9a-f]+)", dump, re.M)
    assert found, dump[:2000]
    end = max(int(found.group(1), 16), *(size + vma for size, vma, _ in stub.values()))
    expected = {".osrel": len(os_release("host", "0.1")), ".cmdline": len("console=ttyS0"),
                ".initrd": 300_006, ".linux": KERNEL[-1].stat().st_size}  # fmt: skip
    for name in added:
        size, vma, offset = uki[name]
        assert size == expected[name], name
        # after the stub's image / the previous section, on the next 512-byte boundary (the stub's alignments)
        assert vma == -(-end // 0x200) * 0x200 and offset % 0x200 == 0, (name, hex(vma), hex(end))
        end = vma + size
    with image.path.open("rb") as f:
        f.seek(uki[".cmdline"][2])
        assert f.read(13) == b"console=ttyS0"


def test_sbverify_accepts_the_signed_uki_with_its_certificate(tmp_path: Path) -> None:
    key, other = _keypair(tmp_path, "db"), _keypair(tmp_path, "other")
    image = signed_copy(_uki(tmp_path), key.sign)
    assert image.signed and not list(tmp_path.glob(".rear.efi*"))
    ok = subprocess.run(["sbverify", "--cert", str(key.cert), str(image.path)], capture_output=True, text=True)
    assert ok.returncode == 0 and "Signature verification OK" in ok.stdout, ok.stdout + ok.stderr
    bad = subprocess.run(["sbverify", "--cert", str(other.cert), str(image.path)], capture_output=True, text=True)
    assert bad.returncode != 0
    # The UKI under the signature is reproducible; the signed file is not: sbsign's PKCS#7 carries a signingTime
    # attribute (two signatures a second apart differ), so the same input signed again verifies, with other bytes.
    again = signed_copy(_uki(tmp_path, "again.efi"), key.sign)
    ok = subprocess.run(["sbverify", "--cert", str(key.cert), str(again.path)], capture_output=True, text=True)
    assert ok.returncode == 0 and "Signature verification OK" in ok.stdout, ok.stdout + ok.stderr
    assert key.key.read_bytes() not in image.path.read_bytes()


def test_a_stub_signed_by_sbsign_is_refused(tmp_path: Path) -> None:
    key = _keypair(tmp_path, "db")
    signed_stub = tmp_path / "signed.stub"
    key.sign(STUB_PATH, signed_stub)
    with pytest.raises(UserError, match="is already signed"):
        _uki(tmp_path, stub=signed_stub)
    assert not (tmp_path / "rear.efi").exists()


def test_a_key_sbsign_cannot_use_is_a_clear_error(tmp_path: Path) -> None:
    key = _keypair(tmp_path, "db")
    garbage = tmp_path / "garbage.key"
    garbage.write_text("not a key\n")
    image = _uki(tmp_path)
    before = image.path.read_bytes()
    with pytest.raises(UserError) as caught:
        signed_copy(image, SigningKey(garbage, key.cert).sign)
    assert f"UKI_SIGN_KEY={garbage}" in caught.value.message and "PEM private key" in (caught.value.hint or "")
    assert image.path.read_bytes() == before and not list(tmp_path.glob(".rear.efi*"))
