"""OUTPUT=PXE's library: settings as ReaR reads them, per-node names, the tree on disk (links, modes, templates)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from rearbuild.errors import UserError
from rearbuild.output.pxe import (
    VARIABLES,
    LinkStyle,
    PxeTemplates,
    RecoverMode,
    hex_ip,
    mac_name,
    settings_from,
    write_pxe,
)
from rearbuild.paths import default_share_dir

SHIPPED = default_share_dir() / "images" / "pxe"
NICS = [
    {"name": "eth0", "mac": "52:54:00:AB:CD:EF", "addresses": ["192.168.1.10/24", "fe80::1/64"]},
    {"name": "eth1", "mac": "52:54:00:00:00:02", "addresses": ["10.0.0.7/8"]},
]


def _values(tmp_path: Path, **overrides: str) -> dict[str, str]:
    values = {name: "" for name in VARIABLES}
    values.update(HOSTNAME="node1", PXE_TFTP_PATH=str(tmp_path / "legacy"), PXE_CONFIG_PATH=str(tmp_path / "legacy"),
                  PXE_TFTP_PREFIX="node1.", PXE_CONFIG_PREFIX="rear-", PXE_CREATE_LINKS="MAC")  # fmt: skip
    values.update(overrides)
    return values


def _write(tmp_path: Path, templates: PxeTemplates | None = None, **overrides: str) -> Path:
    kernel, initrd = tmp_path / "vmlinuz", tmp_path / "initrd.zst"
    kernel.write_bytes(b"kernel bytes")
    initrd.write_bytes(b"initrd bytes")
    tree = tmp_path / "tftp"
    values = _values(tmp_path, PXE_TFTP_URL=f"file://{tree}", PXE_CONFIG_URL=f"file://{tree}/pxelinux.cfg")
    values.update(overrides)
    settings = settings_from(values, ("console=ttyS0,115200",))
    write_pxe(settings, kernel=kernel, initrd=initrd, templates=templates or PxeTemplates(SHIPPED),
              interfaces=NICS, version_info="v1\n")  # fmt: skip
    return tree


def test_per_node_names_are_pxelinux_s() -> None:
    assert mac_name("52:54:00:AB:CD:EF") == "01-52-54-00-ab-cd-ef"
    assert hex_ip("192.168.1.10") == "C0A8010A"  # gethostip -x
    assert LinkStyle.MAC.names(NICS) == ["01-52-54-00-00-00-02", "01-52-54-00-ab-cd-ef"]
    assert LinkStyle.IP.names(NICS) == ["0A0000", "0A000007", "C0A801", "C0A8010A"]  # IPv6 and loopback skipped
    assert LinkStyle.NONE.names(NICS) == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"PXE_CREATE_LINKS": "HOSTNAME"}, "PXE_CREATE_LINKS='HOSTNAME' is not MAC, IP or empty"),
        ({"PXE_RECOVER_MODE": "fast"}, "PXE_RECOVER_MODE='fast'"),
        ({"PXE_HTTP_UPLOAD_URL": "file:///var/www"}, "PXE_HTTP_UPLOAD_URL is set but not PXE_HTTP_DOWNLOAD_URL"),
        ({"PXE_HTTP_URL": "ftp://x/"}, "is not an http(s):// URL"),
        ({"PXE_TFTP_URL": "s3://bucket/tftp"}, "a TFTP tree needs a file system"),
        ({"PXE_TFTP_URL": "nfs://srv/tftp"}, "the scheme 'nfs' is not supported"),
        ({"PXE_TFTP_URL": "file:///a", "PXE_TFTP_UPLOAD_URL": "file:///b"}, "name different places"),
        ({"PXE_TFTP_PREFIX": "my host."}, "PXE_TFTP_PREFIX='my host.' must not contain blanks"),
        ({"PXE_TFTP_IP": "tftp.example"}, "PXE_TFTP_IP='tftp.example' is not an IP address"),
    ],
)
def test_wrong_settings_are_one_clear_error(tmp_path: Path, overrides: dict[str, str], message: str) -> None:
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        settings_from(_values(tmp_path, **overrides), ())


def test_the_tree_ReaR_writes(tmp_path: Path) -> None:
    tree = _write(tmp_path, PXE_RECOVER_MODE="unattended")
    assert (tree / "node1.kernel").read_bytes() == b"kernel bytes"
    assert (tree / "node1.initrd.cgz").read_bytes() == b"initrd bytes"
    assert "v1" in (tree / "node1.message").read_text()
    for name in ("node1.kernel", "node1.initrd.cgz", "node1.message"):
        assert stat.S_IMODE((tree / name).stat().st_mode) == 0o644  # the TFTP server reads as another user
    config = tree / "pxelinux.cfg" / "rear-node1"
    assert stat.S_IMODE(config.stat().st_mode) == 0o444
    text = config.read_text()
    assert "default rear-unattended" in text and "prompt 0" in text
    assert "append initrd=node1.initrd.cgz console=ttyS0,115200 unattended" in text
    assert os.readlink(tree / "pxelinux.cfg" / "01-52-54-00-ab-cd-ef") == "rear-node1"
    assert not (tree / "pxelinux.cfg" / "rear-node1.ipxe").exists()  # no HTTP download: no iPXE script
    # a second run replaces the read-only configuration
    _write(tmp_path, PXE_RECOVER_MODE="")
    assert "default local" in config.read_text() and "prompt 1" in config.read_text()


def test_unattended_puts_pxelinux_on_the_server(tmp_path: Path) -> None:
    kernel = tmp_path / "k"
    kernel.write_bytes(b"k")
    bins, mods = tmp_path / "PXELINUX", tmp_path / "bios"
    for path in (bins / "pxelinux.0", mods / "ldlinux.c32", mods / "menu.c32"):
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(path.name.encode())
    values = _values(tmp_path, PXE_TFTP_URL=f"file://{tmp_path / 'tftp'}", PXE_RECOVER_MODE="unattended")
    write_pxe(settings_from(values, ()), kernel=kernel, initrd=kernel, templates=PxeTemplates(SHIPPED),
              interfaces=NICS, version_info="v", pxelinux=[(bins, mods)])  # fmt: skip
    assert (tmp_path / "tftp" / "pxelinux.0").read_bytes() == b"pxelinux.0"
    assert (tmp_path / "tftp" / "ldlinux.c32").read_bytes() == b"ldlinux.c32"
    assert (tmp_path / "tftp" / "menu.c32").is_file()
    with pytest.raises(UserError, match=r"pxelinux\.0 to the TFTP server, but it is not installed"):
        write_pxe(settings_from(values, ()), kernel=kernel, initrd=kernel, templates=PxeTemplates(SHIPPED),
                  interfaces=NICS, version_info="v", pxelinux=[(tmp_path / "none", mods)])  # fmt: skip
    _write(tmp_path, PXE_RECOVER_MODE="automatic")  # other modes leave the server's boot loader alone
    assert not (tmp_path / "tftp" / "chain.c32").exists()


def test_output_prefix_pxe_puts_the_files_in_a_subdirectory(tmp_path: Path) -> None:
    tree = _write(tmp_path, OUTPUT_PREFIX_PXE="hosts/node1")
    assert (tree / "hosts/node1/node1.kernel").is_file()
    assert "kernel hosts/node1/node1.kernel" in (tree / "pxelinux.cfg" / "rear-node1").read_text()


def test_remove_old_links_removes_only_this_hosts(tmp_path: Path) -> None:
    tree = _write(tmp_path)
    cfg = tree / "pxelinux.cfg"
    (cfg / "01-aa-aa-aa-aa-aa-aa").symlink_to("rear-node1")  # a NIC this host no longer has
    (cfg / "01-bb-bb-bb-bb-bb-bb").symlink_to("rear-node2")  # another host's
    _write(tmp_path)
    assert (cfg / "01-aa-aa-aa-aa-aa-aa").is_symlink()  # without PXE_REMOVE_OLD_LINKS, kept (ReaR)
    _write(tmp_path, PXE_REMOVE_OLD_LINKS="y", PXE_CREATE_LINKS="IP")
    assert not (cfg / "01-aa-aa-aa-aa-aa-aa").is_symlink() and not (cfg / "01-52-54-00-ab-cd-ef").is_symlink()
    assert os.readlink(cfg / "01-bb-bb-bb-bb-bb-bb") == "rear-node2"
    assert os.readlink(cfg / "C0A8010A") == "rear-node1" and os.readlink(cfg / "C0A801") == "rear-node1"


def test_grub_style(tmp_path: Path) -> None:
    tree = _write(tmp_path, PXE_CONFIG_GRUB_STYLE="y", PXE_TFTP_IP="10.1.2.3", PXE_RECOVER_MODE="automatic")
    cfg = tree / "pxelinux.cfg"
    assert os.readlink(cfg / "grub.cfg-01-52-54-00-ab-cd-ef") == "rear-node1"
    text = (cfg / "rear-node1").read_text()
    assert "set net_default_server=10.1.2.3" in text
    assert "linux (tftp)/node1.kernel console=ttyS0,115200 automatic" in text
    assert "initrd (tftp)/node1.initrd.cgz" in text and "set timeout=0" in text


def test_http_download_gets_an_ipxe_script_and_the_upload(tmp_path: Path) -> None:
    www = tmp_path / "www"
    tree = _write(tmp_path, PXE_HTTP_DOWNLOAD_URL="http://srv:8080/", PXE_HTTP_UPLOAD_URL=f"file://{www}")
    script = (tree / "pxelinux.cfg" / "rear-node1.ipxe").read_text()
    assert script.startswith("#!ipxe\n")
    assert "kernel http://srv:8080/node1.kernel initrd=node1.initrd.cgz console=ttyS0,115200" in script
    assert "initrd http://srv:8080/node1.initrd.cgz" in script
    assert (www / "node1.initrd.cgz").read_bytes() == b"initrd bytes"
    assert "kernel http://srv:8080/node1.kernel" in (tree / "pxelinux.cfg" / "rear-node1").read_text()  # rear-http


def test_a_users_template_overrides_the_shipped_one(tmp_path: Path) -> None:
    user = tmp_path / "etc" / "templates" / "pxe"
    user.mkdir(parents=True)
    (user / "pxelinux.cfg.j2").write_text("default mine\nlabel mine\n  kernel {{ kernel }}\n")
    tree = _write(tmp_path, PxeTemplates(SHIPPED, user))
    assert (tree / "pxelinux.cfg" / "rear-node1").read_text() == "default mine\nlabel mine\n  kernel node1.kernel\n"
    (user / "pxelinux.cfg.j2").write_text("{{ no_such_name }}\n")
    with pytest.raises(UserError, match=r"pxelinux\.cfg\.j2 cannot be rendered"):
        _write(tmp_path, PxeTemplates(SHIPPED, user))


def test_legacy_paths_without_urls(tmp_path: Path) -> None:
    settings = settings_from(_values(tmp_path), ())
    assert not settings.url_style and settings.tftp_dir == tmp_path / "legacy"
    assert settings.kernel == "node1.kernel"
    assert RecoverMode.parse("manual").boots_rescue and not RecoverMode.parse("").boots_rescue


def test_two_writes_are_byte_identical(tmp_path: Path) -> None:
    def digest(top: Path) -> dict[str, object]:
        return {str(p.relative_to(top)): os.readlink(p) if p.is_symlink() else (p.stat().st_mode, p.read_bytes())
                for p in sorted(top.rglob("*")) if p.is_symlink() or p.is_file()}  # fmt: skip

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = digest(_write(tmp_path / "a")), digest(_write(tmp_path / "b"))
    assert first == second and len(first) == 6
