"""Paths below the recovery target resolved as a chroot of it would (recover/target.py): nothing written through
them leaves the target. Every link here points to a sibling "elsewhere" made by the test, which must stay empty."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from rearbuild.errors import UserError
from rearbuild.recover import target


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """Directories made here are 0755 whatever the caller's umask: group-writable ones are refused in a demo."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture
def places(tmp_path: Path) -> tuple[Path, Path]:
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    return root, elsewhere


def test_an_absolute_link_leads_below_the_root_not_to_the_host(places: tuple[Path, Path]) -> None:
    root, elsewhere = places
    (root / "var").mkdir()
    (root / "var/log").symlink_to(elsewhere)  # absolute: in the recovered system it is <root>/<elsewhere>
    with target.directory(root, "/var/log/rear", create=True) as where:
        assert where.path == root / str(elsewhere).lstrip("/") / "rear"
    assert (root / str(elsewhere).lstrip("/") / "rear").is_dir()
    assert list(elsewhere.iterdir()) == []


def test_dot_dot_stops_at_the_root(places: tuple[Path, Path]) -> None:
    root, elsewhere = places
    (root / "up").symlink_to("../../../elsewhere")
    assert target.write_file(root, "up/file", b"data") == root / "elsewhere/file"
    with target.directory(root, "../../elsewhere") as where:
        assert where.path == root / "elsewhere"
    assert (root / "elsewhere/file").read_bytes() == b"data"
    assert list(elsewhere.iterdir()) == []


def test_links_inside_the_root_are_followed(places: tuple[Path, Path]) -> None:
    root, _ = places
    (root / "usr/bin").mkdir(parents=True)
    (root / "bin").symlink_to("usr/bin")
    (root / "sbin").symlink_to("/bin")
    with target.directory(root, "/sbin") as where:
        assert where.path == root / "usr/bin"
    assert target.write_file(root, "/sbin/tool", b"") == root / "usr/bin/tool"


def test_a_loop_of_links_is_an_error_not_a_hang(places: tuple[Path, Path]) -> None:
    root, _ = places
    (root / "a").symlink_to("b")
    (root / "b").symlink_to("a")
    with pytest.raises(OSError) as raised, target.directory(root, "a/x", create=True):
        pass
    assert raised.value.errno == errno.ELOOP


def test_write_file_replaces_a_link_or_hard_link_never_writes_through(places: tuple[Path, Path]) -> None:
    root, elsewhere = places
    (elsewhere / "victim").write_text("keep\n")
    (root / "soft").symlink_to(elsewhere / "victim")
    os.link(elsewhere / "victim", root / "hard")
    assert target.write_file(root, "soft", b"new\n") == root / "soft"
    target.write_file(root, "hard", b"new\n")
    assert (elsewhere / "victim").read_text() == "keep\n"
    assert (root / "soft").read_text() == "new\n" and not (root / "soft").is_symlink()
    assert (root / "hard").read_text() == "new\n"
    assert sorted(p.name for p in root.iterdir()) == ["hard", "soft"]  # no temporary file left


def test_a_file_on_the_way_is_an_error(places: tuple[Path, Path]) -> None:
    root, _ = places
    (root / "var").write_text("not a directory\n")
    with pytest.raises(NotADirectoryError), target.directory(root, "var/log", create=True):
        pass


def test_links_leaving_as_the_host_resolves_them(places: tuple[Path, Path]) -> None:
    root, elsewhere = places
    (root / "etc").mkdir()
    (root / "var").symlink_to(elsewhere)
    (root / "etc/up").symlink_to("../../elsewhere")
    (root / "etc/gone").symlink_to("/nonexistent/place")  # dangling: it may exist by the time it is followed
    (root / "etc/inside").symlink_to("../var")  # inside, but on to a link that leaves: counts
    (root / "bin").symlink_to("etc")  # stays inside
    found = dict(target.hazards(root).links)
    assert found == {
        root / "var": str(elsewhere),
        root / "etc/up": str(elsewhere),
        root / "etc/gone": "/nonexistent/place",
        root / "etc/inside": str(elsewhere),
    }


def test_a_target_with_links_out_is_refused_naming_one(places: tuple[Path, Path]) -> None:
    root, elsewhere = places
    (root / "var").symlink_to(elsewhere)
    (root / "tmp").symlink_to(elsewhere / "tmp")
    with pytest.raises(UserError) as raised:
        target.check_before_restore(root, demo=True)
    message = str(raised.value)
    assert f"{root} holds symbolic links leading out of it" in message
    assert f"{root / 'tmp'} -> {elsewhere / 'tmp'} and 1 more" in message
    assert "nothing was written" in message


def test_an_empty_or_self_contained_target_passes(places: tuple[Path, Path]) -> None:
    root, _ = places
    target.check_before_restore(root, demo=True)
    (root / "usr/bin").mkdir(parents=True)
    (root / "bin").symlink_to("usr/bin")
    target.check_before_restore(root, demo=False)


def test_a_demo_directory_others_can_write_into_is_refused(places: tuple[Path, Path]) -> None:
    root, _ = places
    os.chmod(root, 0o1777)
    with pytest.raises(UserError, match=f"{root}: {root} can be written by other users .*mode 1777"):
        target.check_before_restore(root, demo=True)
    os.chmod(root, 0o755)
    (root / "home/user").mkdir(parents=True)
    (root / "tmp").mkdir(mode=0o700)
    os.chmod(root / "tmp", 0o1777)
    if os.geteuid() == 0:
        os.chown(root / "home/user", 1234, 1234)
    with pytest.raises(UserError) as raised:
        target.check_before_restore(root, demo=True)
    expected = root / ("home/user" if os.geteuid() == 0 else "tmp")
    assert f"{expected} can be written by other users" in str(raised.value)
    target.check_before_restore(root, demo=False)  # the rescue system: nobody else works there


def test_locate_reads_the_restored_system_not_the_rescue_system(places: tuple[Path, Path]) -> None:
    root, elsewhere = places
    (elsewhere / "grub-install").write_text("the rescue system's\n")
    (root / "usr/sbin").mkdir(parents=True)
    (root / "sbin").symlink_to(elsewhere)  # in the restored system: <root>/<elsewhere>, which is missing
    assert target.locate(root, "sbin/grub-install") is None
    (root / "usr/sbin/grub-install").write_text("its own\n")
    (root / "boot").symlink_to("/usr/sbin")
    assert target.locate(root, "/boot/grub-install") == root / "usr/sbin/grub-install"
    (root / "usr/sbin/link").symlink_to("../../usr/sbin/grub-install")
    assert target.locate(root, "usr/sbin/link") == root / "usr/sbin/grub-install"
    assert target.locate(root, "/") == root
    assert target.locate(root, "usr/sbin/grub-install/x") is None
