"""rearbuild.container without an engine: which engine a build talks to, and the builder image's cache key."""

from __future__ import annotations

import io
import os
import socket
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from rearbuild.container import _extract, builder_tag, engine_url
from rearbuild.errors import UserError


@pytest.fixture
def listening(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "engine.sock"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
        yield path


def test_the_engine_is_the_option_then_the_environment_then_a_socket(listening: Path, tmp_path: Path) -> None:
    env = {"CONTAINER_HOST": "unix:///a.sock", "DOCKER_HOST": "tcp://127.0.0.1:2375"}
    sockets = [tmp_path / "missing.sock", listening]
    assert engine_url("ssh://builder", env, sockets) == "ssh://builder"
    assert engine_url(None, env, sockets) == "unix:///a.sock"
    assert engine_url(None, {"DOCKER_HOST": "tcp://127.0.0.1:2375"}, sockets) == "tcp://127.0.0.1:2375"
    assert engine_url(None, {"DOCKER_HOST": " "}, sockets) == f"unix://{listening}"


def test_no_engine_is_an_error_naming_the_fix(tmp_path: Path) -> None:
    regular = tmp_path / "docker.sock"
    regular.write_text("not a socket")
    with pytest.raises(UserError) as err:
        engine_url(None, {}, [tmp_path / "podman.sock", regular])
    assert "no container engine found" in str(err.value)
    assert "podman system service" in (err.value.hint or "") and "DOCKER_HOST" in (err.value.hint or "")


def _wheel(path: Path, files: dict[str, bytes], date: tuple[int, int, int, int, int, int]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(zipfile.ZipInfo(name, date), data)
    return path


def test_the_builder_tag_follows_contents_not_zip_timestamps(tmp_path: Path) -> None:
    containerfile = tmp_path / "Containerfile"
    containerfile.write_text("FROM debian:12\n")
    house = tmp_path / "wheelhouse"
    house.mkdir()
    files = {"rearbuild/__init__.py": b"x = 1\n", "rearbuild-0.1.0.dist-info/RECORD": b"r\n"}
    wheel = _wheel(house / "rearbuild-0.1.0-py3-none-any.whl", files, (2024, 1, 1, 0, 0, 0))
    tag = builder_tag(containerfile, house)
    assert tag.startswith("rearbuild-builder:")
    _wheel(wheel, files, (2026, 11, 30, 3, 0, 0))  # the same sources, wheeled again later
    assert builder_tag(containerfile, house) == tag
    _wheel(wheel, {**files, "rearbuild/__init__.py": b"x = 2\n"}, (2024, 1, 1, 0, 0, 0))
    changed = builder_tag(containerfile, house)
    assert changed != tag
    containerfile.write_text("FROM debian:12\nRUN true\n")
    assert builder_tag(containerfile, house) not in (tag, changed)


def test_a_wheelhouse_without_rearbuild_is_refused(tmp_path: Path) -> None:
    containerfile = tmp_path / "Containerfile"
    containerfile.write_text("FROM debian:12\n")
    _wheel(tmp_path / "jinja2-3.1.6-py3-none-any.whl", {"jinja2/__init__.py": b""}, (2024, 1, 1, 0, 0, 0))
    with pytest.raises(UserError, match="has no rearbuild wheel"):
        builder_tag(containerfile, tmp_path)


def _tar(members: dict[str, tuple[bytes, int]]) -> list[bytes]:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, (data, mode) in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    raw = buffer.getvalue()
    return [raw[i : i + 4096] for i in range(0, len(raw), 4096)]  # chunks, as get_archive yields them


def test_results_come_out_of_the_archive_with_their_permissions(tmp_path: Path) -> None:
    iso = os.urandom(10000)
    stream = _tar({"out/vm/rear-vm.iso": (iso, 0o600), "out/vm/rear-vm.iso.sha256": (b"x  rear-vm.iso\n", 0o644)})
    _extract(stream, tmp_path / "spool.tar", tmp_path / "dest")
    result = tmp_path / "dest" / "out" / "vm" / "rear-vm.iso"
    assert result.read_bytes() == iso
    assert stat.S_IMODE(result.stat().st_mode) == 0o600  # an ISO holding a backup stays private
    assert not (tmp_path / "spool.tar").exists()


def test_an_archive_member_outside_the_results_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="outside their directory"):
        _extract(_tar({"out/../../evil": (b"x", 0o644)}), tmp_path / "spool.tar", tmp_path / "dest")
    assert not (tmp_path / "evil").exists()
