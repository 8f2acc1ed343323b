"""Fast, pure tests of the ISO writer (rearbuild.output.iso): ISO 9660 naming and pycdlib output without boot
loaders (no external tools)."""

from __future__ import annotations

import io
import os
import stat
import time
from pathlib import Path, PurePosixPath

import pycdlib
import pytest

from rearbuild.errors import UserError
from rearbuild.output.iso import _Namer, write_iso


def test_iso9660_names_are_valid_level3_and_unique() -> None:
    namer = _Namer()
    long = PurePosixPath("/d/" + "x" * 40 + ".tar.gz")
    names = [
        namer.iso_path(PurePosixPath("/isolinux/isolinux.bin"), is_dir=False),
        namer.iso_path(PurePosixPath("/.disk/info"), is_dir=False),
        namer.iso_path(PurePosixPath("/isolinux/kernel"), is_dir=False),
        namer.iso_path(PurePosixPath("/d/a-b.txt"), is_dir=False),
        namer.iso_path(PurePosixPath("/d/a_b.txt"), is_dir=False),
        namer.iso_path(long, is_dir=False),
    ]
    assert names[:4] == ["/ISOLINUX/ISOLINUX.BIN;1", "/_DISK/INFO.;1", "/ISOLINUX/KERNEL.;1", "/D/A_B.TXT;1"]
    assert names[4] == "/D/A_B_1.TXT;1"
    assert len(names[5].rsplit("/", 1)[1].removesuffix(";1")) <= 31  # 30 + the dot
    assert namer.iso_path(PurePosixPath("/d/a-b.txt"), is_dir=False) == names[3]  # stable


def _plain_iso(tmp_path: Path, name: str, seed: str = "s", epoch: int = 1_700_000_000) -> bytes:
    files: dict[str, Path | bytes] = {"/a/b/hello.txt": b"hello\n", "/Mixed-Case Name.cfg": b"x" * 5000}
    write_iso(tmp_path / name, files, epoch=epoch, seed=seed, boot=None)
    return (tmp_path / name).read_bytes()


def test_plain_iso_is_reproducible_and_depends_on_epoch(tmp_path: Path) -> None:
    first = _plain_iso(tmp_path, "1.iso")
    time.sleep(0.01)
    assert _plain_iso(tmp_path, "2.iso") == first
    assert _plain_iso(tmp_path, "3.iso", epoch=1_700_000_001) != first


def test_a_source_files_permissions_do_not_leak_into_the_iso(tmp_path: Path) -> None:
    # The kernel read from /boot (0644) and from a bundle unpacked under umask 077 (0600): the same ISO.
    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(b"MZ kernel")
    images = []
    for mode in (0o644, 0o600, 0o444):
        kernel.chmod(mode)
        write_iso(tmp_path / "k.iso", {"/kernel": kernel}, epoch=0, seed="s", boot=None)
        images.append((tmp_path / "k.iso").read_bytes())
    assert images[0] == images[1] == images[2]


def test_plain_iso_reads_back_by_real_names(tmp_path: Path) -> None:
    data = _plain_iso(tmp_path, "1.iso")
    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(data))
    try:
        for kind in ("rr_path", "joliet_path"):
            out = io.BytesIO()
            iso.get_file_from_iso_fp(out, **{kind: "/a/b/hello.txt"})
            assert out.getvalue() == b"hello\n"
        out = io.BytesIO()
        iso.get_file_from_iso_fp(out, rr_path="/Mixed-Case Name.cfg")
        assert out.getvalue() == b"x" * 5000
        assert iso.pvd.volume_identifier.rstrip() == b"RELAXRECOVER"
    finally:
        iso.close()


def test_write_iso_refuses_missing_boot_files_and_bad_volume_ids(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"isolinux\.bin"):
        write_iso(tmp_path / "x.iso", {"/a": b""}, epoch=0, seed="s")
    with pytest.raises(UserError, match="volume id"):
        write_iso(tmp_path / "x.iso", {"/a": b""}, epoch=0, seed="s", volume_id="rear-000", boot=None)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_an_iso_holding_a_backup_is_readable_by_root_only(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        write_iso(tmp_path / "private.iso", {"/backup/backup.tar.gz": b"data"}, epoch=0, seed="s", boot=None,
                  private=True)  # fmt: skip
        write_iso(tmp_path / "plain.iso", {"/hello": b"hello"}, epoch=0, seed="s", boot=None)
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "private.iso").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "plain.iso").stat().st_mode) == 0o644


def test_writing_reports_progress_up_to_the_whole_image(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    image = write_iso(tmp_path / "p.iso", {"/big": b"x" * (3 << 20), "/small": b"y"}, epoch=0, seed="s", boot=None,
                      progress=lambda done, total: seen.append((done, total)))  # fmt: skip
    assert len(seen) > 1 and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert seen[-1] == (image.size, image.size)
