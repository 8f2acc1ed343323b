"""URLs: one type for OUTPUT_URL and BACKUP_URL, the registry of schemes and what each says, the refusals of
schemes rearbuild does not implement yet."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest

from rearbuild.errors import UserError
from rearbuild.paths import default_share_dir
from rearbuild.url import REGISTRY, Reach, Scheme, Url, Use, redact_userinfo
from tests.conftest import RearEnv

Run = Callable[..., tuple[int, str, str]]

# ---- BACKUP_URL -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "scheme", "path"),
    [
        ("file:///srv/backup", Scheme.FILE, "/srv/backup"),
        ("usb:///dev/disk/by-label/REAR-000", Scheme.USB, "/dev/disk/by-label/REAR-000"),
        ("iso:///backup", Scheme.ISO, "/backup"),
        ("tape:///dev/nst0", Scheme.TAPE, "/dev/nst0"),
        ("file:///srv/my%20backups/", Scheme.FILE, "/srv/my backups"),
    ],
)
def test_backup_url_schemes(url: str, scheme: Scheme, path: str) -> None:
    parsed = Url.parse(url, Use.BACKUP)
    assert parsed.scheme is scheme and parsed.path == PurePosixPath(path)


@pytest.mark.parametrize("scheme", ["nfs", "cifs", "sshfs", "ftpfs"])
def test_rear_schemes_not_implemented_are_refused_by_name(scheme: str) -> None:
    with pytest.raises(UserError) as err:
        Url.parse(f"{scheme}://server/export", Use.BACKUP)
    assert "BACKUP_URL" in err.value.message and "not supported yet" in err.value.message
    assert scheme in err.value.message


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("", "needs BACKUP_URL"),
        ("/backup", "no scheme"),
        ("file://server/backup", "no host part"),
        ("file:///", "absolute directory other than /"),
        ("gopher:///x", "unknown scheme"),
    ],
)
def test_bad_backup_urls(url: str, words: str) -> None:
    with pytest.raises(UserError, match=words):
        Url.parse(url, Use.BACKUP)


def test_where_each_scheme_keeps_the_archive() -> None:
    root = Path("/build/outputfs")
    assert Url.parse("file:///srv/b", Use.BACKUP).archive_dir(Path("/srv/b"), "host1") == Path("/srv/b/host1")
    assert Url.parse("usb:///dev/sdb1", Use.BACKUP).archive_dir(root, "host1") == root / "rear/host1"
    assert Url.parse("iso:///backup", Use.BACKUP).archive_dir(root, "host1") == root / "backup"


# ---- OUTPUT_URL -------------------------------------------------------------------------------------------------


def test_output_url_file_and_null() -> None:
    url = Url.parse("file:///srv/out", Use.OUTPUT)
    assert url.scheme is Scheme.FILE and url.archive_dir(Path(url.path), "host1") == Path("/srv/out/host1")
    assert url.archive_dir(Path(url.path), "") == Path("/srv/out")
    assert Url.parse("null://", Use.OUTPUT).scheme.reach is Reach.NOWHERE
    # ReaR's documented spelling has no "://" (OUTPUT_URL=null with BACKUP_URL=iso:///backup)
    assert Url.parse("null", Use.OUTPUT).scheme.reach is Reach.NOWHERE
    # as in ReaR, OUTPUT_URL's path is taken as written
    assert Url.parse("file:///srv/a%20b", Use.OUTPUT).path == PurePosixPath("/srv/a%20b")


@pytest.mark.parametrize("url", ["iso:///backup", "nfs://server/export", "sftp://h/x"])
def test_output_url_schemes_not_implemented_are_refused(url: str) -> None:
    with pytest.raises(UserError) as err:
        Url.parse(url, Use.OUTPUT)
    assert err.value.message.startswith("OUTPUT_URL=") and "not supported by rearbuild yet" in err.value.message
    assert err.value.hint is not None and "file:///directory" in err.value.hint


@pytest.mark.parametrize(("url", "words"), [("/out", "no scheme"), ("file://server/out", "no host part")])
def test_bad_output_urls(url: str, words: str) -> None:
    with pytest.raises(UserError, match=words):
        Url.parse(url, Use.OUTPUT)


def test_null_is_no_backup_url() -> None:
    with pytest.raises(UserError, match="an unknown scheme 'null'"):
        Url.parse("null://", Use.BACKUP)
    with pytest.raises(UserError, match="an unknown scheme 'null'"):
        Url.parse("null", Use.BACKUP)


# ---- the registry -----------------------------------------------------------------------------------------------


def test_registry_knows_rears_schemes_and_implements_few() -> None:
    rear_backup = ("nfs", "cifs", "sshfs", "ftpfs", "obdr", "davfs", "glusterfs", "ceph", "rsync", "var")
    for word in rear_backup:
        assert Use.BACKUP in REGISTRY[word].spec.rear and not REGISTRY[word].spec.implemented
    assert REGISTRY["sftp"].spec.rear == {Use.OUTPUT} and not REGISTRY["sftp"].spec.implemented
    for word in ("http", "https", "s3"):
        assert REGISTRY[word].spec.rear == {Use.OUTPUT} and REGISTRY[word].spec.implemented == {Use.OUTPUT}
    assert REGISTRY["oci"].spec.rear == set() and REGISTRY["oci"].spec.implemented == {Use.OUTPUT}
    implemented = {(s.word, u) for s in Scheme for u in Use if s.implemented_for(u)}
    assert implemented == {
        ("file", Use.OUTPUT), ("file", Use.BACKUP), ("null", Use.OUTPUT), ("usb", Use.BACKUP), ("usb", Use.OUTPUT),
        ("iso", Use.BACKUP),
        ("tape", Use.BACKUP),
        ("http", Use.OUTPUT), ("https", Use.OUTPUT), ("s3", Use.OUTPUT), ("oci", Use.OUTPUT),
    }


def test_what_each_implemented_scheme_needs() -> None:
    assert not Scheme.FILE.reach.mounts and Scheme.FILE.programs == ()
    assert Scheme.USB.reach.mounts and Scheme.USB.programs == ("mount", "umount", "blkid")
    assert Scheme.ISO.in_rescue_image and not Scheme.USB.in_rescue_image
    assert Scheme.NFS.reach.mounts and "mount.nfs" in Scheme.NFS.programs and "nfs" in Scheme.NFS.modules


def test_scheme_of_text() -> None:
    assert Scheme.of(" file:///x") is Scheme.FILE
    assert Scheme.of("/x") is None and Scheme.of("gopher://x") is None and Scheme.of("http://[") is None


@pytest.mark.parametrize("path", ["/srv/" + "x" * 5_000_000, "/srv/" + "n" * 256 + "/backup"])
def test_a_location_longer_than_linux_allows_is_a_clear_error(path: str) -> None:
    with pytest.raises(UserError, match="longer than Linux allows") as caught:
        Url.parse(f"file://{path}", Use.BACKUP)
    assert len(str(caught.value)) < 400  # the message does not quote megabytes


def test_store_urls_name_a_server_and_never_credentials() -> None:
    url = Url.parse("s3://bucket/some/prefix", Use.OUTPUT)
    assert (url.scheme, url.host, url.path) == (Scheme.S3, "bucket", PurePosixPath("/some/prefix"))
    assert Url.parse("oci://127.0.0.1:5000/rescue/web:v1", Use.OUTPUT).host == "127.0.0.1:5000"
    with pytest.raises(UserError) as err:
        Url.parse("https://user:hunter2@dav.example/out", Use.OUTPUT)
    assert "hunter2" not in err.value.message and "netrc" in (err.value.hint or "")
    with pytest.raises(UserError, match="name a server"):
        Url.parse("https:///out", Use.OUTPUT)
    with pytest.raises(UserError, match="not supported"):
        Url.parse("s3://b", Use.BACKUP)


def test_a_password_typed_into_a_url_never_reaches_the_log(rear_env: RearEnv, rearbuild: Run) -> None:
    assert redact_userinfo("x https://u:hunter2@h/p s3://b/k") == "x https://***@h/p s3://b/k"
    (rear_env.share_dir / "recipes").symlink_to(default_share_dir() / "recipes")
    status, out, err = rearbuild("publish", "https://admin:hunter2@127.0.0.1:9/out", "/etc/hostname")
    assert status == 1 and "credentials do not belong in the URL" in err and "netrc" in err
    logs = "".join(p.read_text() for p in rear_env.log_dir.iterdir())
    assert "argv" in logs and "hunter2" not in logs + out + err
