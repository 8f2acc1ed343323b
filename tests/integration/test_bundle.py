"""Collect here, build there (issue 13): `rearbuild collect --bundle X.tar` on the host and `rearbuild build X.tar`
elsewhere (its own build area, cache, configuration, time zone and umask) give the ISO `rearbuild image` gives on
the host, byte for byte; a tampered or truncated bundle is refused before anything is built; the backup key set in
the host's local.conf is in no byte of the bundle."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rearbuild.checksum import sha256_bytes
from rearbuild.facts import short_hostname
from rearbuild.manifest import EntryKind, Manifest, object_path

pytestmark = pytest.mark.slow

KEY = "Bundle-Test-Key-4711"


@dataclass(frozen=True)
class Built:
    root: Path
    bundle: Path
    host_iso: bytes
    built_iso: bytes | None


def _run(root: Path, out: Path, workflow: str, *args: str, tz: str = "UTC", umask: int = 0o022,
         local: str = "") -> subprocess.CompletedProcess[str]:  # fmt: skip
    etc = root / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "local.conf").write_text(f"OUTPUT_URL=file://{out}\n{local}")
    env = dict(os.environ, TZ=tz)
    for name in ("SOURCE_DATE_EPOCH", "REARBUILD_CACHE_DIR"):
        env.pop(name, None)
    argv = [sys.executable, "-m", "rearbuild", "-c", str(etc), "--var-dir", str(root / "var"),
            "--log-dir", str(root / "log"), "--tmpdir", str(root / "tmp"), workflow, *args]  # fmt: skip
    return subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=600, preexec_fn=lambda: os.umask(umask), cwd=root
    )


def _iso(out: Path) -> Path:
    host = short_hostname()
    return out / host / f"rear-{host}.iso"


def _layout(var: Path) -> list[str]:
    text = (var / "layout" / "disklayout.conf").read_text()
    return [line for line in text.splitlines() if not line.startswith("# Disk layout dated")]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    root = tmp_path_factory.mktemp("bundle")
    bundle = root / "host.tar"
    secret = f"{{ BACKUP_PROG_CRYPT_KEY='{KEY}' ; }} 2>/dev/null\n"
    # bzip2, bunzip2 and bzcat are one file on Debian (hard links): the image keeps them one inode, so must a bundle
    secret += "PROGS+=( bzip2 bunzip2 bzcat )\n"
    # The image carries the host's disk layout, which changes on this shared machine when another test's loop
    # device comes or goes: collect and image again until both saw the same layout (a few times at most).
    for _ in range(3):
        for part in ("host", "collect"):
            shutil.rmtree(root / part, ignore_errors=True)
        # the same local.conf as the image: it goes into the image
        result = _run(root / "collect", root / "out-host", "collect", "--bundle", str(bundle), local=secret)
        assert result.returncode == 0, result.stderr[-3000:]
        result = _run(root / "host", root / "out-host", "image", local=secret)
        assert result.returncode == 0, result.stderr[-3000:]
        if _layout(root / "collect" / "var") == _layout(root / "host" / "var"):
            break
    assert _layout(root / "collect" / "var") == _layout(root / "host" / "var"), "the host's disk layout kept changing"
    result = _run(root / "builder", root / "out-builder", "build", str(bundle), tz="Asia/Tokyo", umask=0o077)
    assert result.returncode == 0, result.stderr[-3000:]
    yield Built(root, bundle, _iso(root / "out-host").read_bytes(), _iso(root / "out-builder").read_bytes())


def test_build_from_a_bundle_gives_the_hosts_iso_byte_for_byte(built: Built) -> None:
    assert sha256_bytes(built.built_iso) == sha256_bytes(built.host_iso), (
        f"the ISO built from the bundle differs from the host's: diffoscope {_iso(built.root / 'out-host')} "
        f"{_iso(built.root / 'out-builder')}"
    )


def test_the_backup_key_is_in_no_byte_of_the_bundle(built: Built) -> None:
    data = built.bundle.read_bytes()
    assert KEY.encode() not in data
    assert b"BACKUP_PROG_CRYPT_KEY=''" in data  # the configuration file is there, its key blanked


def _refused(built: Built, bundle: Path, name: str) -> str:
    out = built.root / f"out-{name}"
    result = _run(built.root / name, out, "build", str(bundle))
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert not out.exists() and not (built.root / name / "var" / "output").exists(), "something was built"
    return result.stderr


def test_a_bundle_with_one_object_flipped_is_refused_naming_it(built: Built, tmp_path: Path) -> None:
    manifest = Manifest.read(built.root / "collect" / "var" / "recovery" / "manifest.json")
    record = next(f for f in manifest.files if f.kind is EntryKind.FILE and f.path.startswith("/usr/bin/"))
    name = object_path(Path(), record.sha256 or "").as_posix()
    with tarfile.open(built.bundle) as tar:
        offset = tar.getmember(name).offset_data
    tampered = tmp_path / "tampered.tar"
    shutil.copyfile(built.bundle, tampered)
    with tampered.open("r+b") as f:
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ 0x01]))
    err = _refused(built, tampered, "tampered")
    assert f"{record.path} does not match its sha256" in err and "tampered or damaged" in err, err


def test_a_truncated_bundle_is_refused(built: Built, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.tar"
    with built.bundle.open("rb") as src, truncated.open("wb") as dst:
        dst.write(src.read(built.bundle.stat().st_size // 2))
    err = _refused(built, truncated, "truncated")
    assert f"bundle {truncated} is not a complete tar file" in err, err
