"""Files generated into the rescue image: the configuration goes in, the backup's encryption key does not."""

from __future__ import annotations

import subprocess
from pathlib import Path

from rearbuild.build.cpio import Kind
from rearbuild.build.generated import config_entries, generated_entries
from rearbuild.manifest import Manifest
from rearbuild.paths import PACKAGE_DIR, default_share_dir

LOCAL_CONF = """BACKUP=NETFS
BACKUP_PROG_CRYPT_ENABLED=yes
{ BACKUP_PROG_CRYPT_KEY='correct horse battery staple' ; } 2>/dev/null
export BACKUP_PROG_CRYPT_KEY="correct horse battery staple"; OUTPUT=ISO
"""


def test_encryption_key_never_reaches_the_image(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "local.conf").write_text(LOCAL_CONF)
    (etc / "site.conf").write_text("OUTPUT_URL=file:///srv\n")
    manifest = Manifest(
        tool_version="0",
        facts={"HOSTNAME": "h"},
        config={},
        kernel_version="6.1",
        kernel_file="/boot/vmlinuz",
        files=(),
    )
    entries = generated_entries(
        manifest=manifest,
        config=config_entries(etc),
        share_dir=default_share_dir(),
        package_dir=PACKAGE_DIR,
        epoch=0,
        modules_load=(),
        rescue_variables={},
    )
    by_path = {e.path: e for e in entries}
    local = by_path["etc/rear/local.conf"]
    assert local.kind is Kind.FILE and local.mode == 0o600 and local.data is not None
    text = local.data.decode()
    assert "correct horse" not in text
    assert "BACKUP_PROG_CRYPT_ENABLED=yes" in text and "OUTPUT=ISO" in text
    # still valid bash, and it still reads as before, with an empty key
    script = tmp_path / "check.sh"
    script.write_text(text + 'echo "[$BACKUP_PROG_CRYPT_KEY] $OUTPUT"\n')
    result = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=True)
    assert result.stdout == "[] ISO\n"
    assert by_path["etc/rear/site.conf"].source == etc / "site.conf"  # unchanged files are copied as they are


def test_a_signing_key_under_the_config_dir_stays_out_of_the_image(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    (etc / "keys").mkdir(parents=True)
    (etc / "local.conf").write_text(f"UKI_SIGN_KEY={etc}/keys/uki.key\n")
    (etc / "keys" / "uki.key").write_text("-----BEGIN PRIVATE KEY-----\nSECRET\n")
    (etc / "keys" / "uki.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    (tmp_path / "link.key").symlink_to(etc / "keys" / "uki.key")
    every = {e.path for e in config_entries(etc)}
    assert "etc/rear/keys/uki.key" in every  # without being named, it would be copied like any file
    kept = {e.path for e in config_entries(etc, [tmp_path / "link.key"])}  # named through a link: the same file
    assert "etc/rear/keys/uki.key" not in kept
    assert {"etc/rear/keys/uki.crt", "etc/rear/local.conf"} <= kept
