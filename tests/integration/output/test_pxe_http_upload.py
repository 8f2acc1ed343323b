"""PXE_HTTP_UPLOAD_URL to a real WebDAV server (nginx on 127.0.0.1, ~/.netrc credentials): kernel and initrd land
under the names PXE_HTTP_DOWNLOAD_URL serves them by, and a wrong password is one clear error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rearbuild.errors import UserError
from rearbuild.output.pxe import VARIABLES, PxeTemplates, settings_from, write_pxe
from rearbuild.paths import default_share_dir
from tests.integration.output.stores.servers import Server, running

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def webdav(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from running("webdav", tmp_path_factory.mktemp("webdav"))


def _upload(tmp_path: Path, url: str) -> None:
    kernel, initrd = tmp_path / "k", tmp_path / "i"
    kernel.write_bytes(b"kernel")
    initrd.write_bytes(b"initrd" * 1000)
    values = {name: "" for name in VARIABLES}
    values.update(HOSTNAME="node1", PXE_TFTP_URL=f"file://{tmp_path / 'tftp'}", PXE_CONFIG_PREFIX="rear-",
                  PXE_TFTP_PREFIX="node1.", PXE_CONFIG_URL=f"file://{tmp_path / 'tftp'}",
                  PXE_HTTP_DOWNLOAD_URL="http://srv/pxe", PXE_HTTP_UPLOAD_URL=url)  # fmt: skip
    templates = PxeTemplates(default_share_dir() / "images" / "pxe")
    write_pxe(settings_from(values, ()), kernel=kernel, initrd=initrd, templates=templates, interfaces=[],
              version_info="v")  # fmt: skip


def test_kernel_and_initrd_are_uploaded(webdav: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in webdav.env(tmp_path / "home").items():
        monkeypatch.setenv(key, value)
    _upload(tmp_path, webdav.url("pxe"))
    assert (webdav.root / "artifacts/pxe/node1.kernel").read_bytes() == b"kernel"
    assert (webdav.root / "artifacts/pxe/node1.initrd.cgz").read_bytes() == b"initrd" * 1000


def test_a_refused_login_is_one_clear_error(webdav: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in webdav.env(tmp_path / "home", password="wrong").items():
        monkeypatch.setenv(key, value)
    with pytest.raises(UserError) as err:
        _upload(tmp_path, webdav.url("pxe-refused"))
    assert "refused the credentials" in str(err.value) and "wrong" not in str(err.value)
    assert not (webdav.root / "artifacts/pxe-refused").exists()
