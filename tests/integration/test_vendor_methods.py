"""BACKUP=TSM, NSR, DP, FDRUPSTREAM against stand-ins of the vendors' clients: shell scripts that record their
arguments and environment and print the output the vendors document. The real products were not available: these
tests prove the command lines, the parsing of the documented output and the refusals, not the products."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from rearbuild.backup import dp, fdrupstream, nsr, tsm
from rearbuild.backup.vendor import hand_over
from rearbuild.config.model import Config
from rearbuild.manifest import Manifest
from tests.conftest import RearEnv, shipped_config
from tests.integration.conftest import Cli

pytestmark = pytest.mark.slow

HOST = socket.gethostname()

TSM_FILESPACES = """IBM Storage Protect
Command Line Backup-Archive Client Interface
  Client Version 8, Release 1, Level 19.0
  Client date/time: 30-11-2026 06:30:00
(c) Copyright by IBM Corporation and other(s) 1990, 2023. All Rights Reserved.

Node Name: CLIENT1
Session established with server SERVER1: Linux/x86_64
  Server Version 8, Release 1, Level 19.000
  Server date/time: 30-11-2026 06:30:00  Last access: 29-11-2026 23:00:00

  #     Last Incr Date          Type    File Space Name
---     --------------          ----    ---------------
  1   29-11-2026 23:01:02       EXT4    /
  2   29-11-2026 23:01:40       EXT4    /boot
"""

DP_OBJECTS = f"""Object Name                              Object Type Object Description
===============================================================================
{HOST}:/ '/'                                 FileSystem
{HOST}:/boot '/boot'                         FileSystem
otherhost:/ '/'                              FileSystem
"""
DP_SESSIONS = """SessionID                   Type  Status      Start Time              Size
===============================================================================
2026/11/09-12               Full  Completed   11/09/26 01:00:00       1024
2026/11/29-3                Incr  Completed   11/29/26 01:00:00       20
"""


def stand_in(path: Path, record: Path, body: str = "") -> Path:
    """An executable that appends its arguments (one per line, then a line '--') and environment to record."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "#!/bin/bash\n"
        f'{{ printf \'%s\\n\' "$(basename "$0")" "$@" LD_LIBRARY_PATH="$LD_LIBRARY_PATH" LC_ALL="$LC_ALL"; '
        f"echo --; }} >> '{record}'\n" + body
    )
    path.chmod(0o755)
    return path


def calls(record: Path) -> list[list[str]]:
    text = record.read_text() if record.exists() else ""
    return [block.strip("\n").split("\n") for block in text.split("--\n") if block.strip()]


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Stand-ins go here, first on PATH; the vendors' programs are found on PATH as on a real host."""
    directory = tmp_path / "vendor-bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", f"{directory}:{os.environ['PATH']}")
    return directory


def _tsm(bin_dir: Path, record: Path, session_rc: int = 0) -> None:
    listing = bin_dir / "filespaces.txt"
    listing.write_text(TSM_FILESPACES)
    stand_in(
        bin_dir / "dsmc",
        record,
        f'case "$1" in\n  query) [ "$2" = session ] && exit {session_rc}; cat "{listing}" ;;\n'
        '  restore) mkdir -p "$3" && echo restored > "$3/restored-by-dsmc" ;;\nesac\nexit 0\n',
    )


def test_tsm_restore_runs_reaRs_dsmc_command_lines(env: RearEnv, cli: Cli, bin_dir: Path) -> None:
    record = env.root / "dsmc.calls"
    _tsm(bin_dir, record)
    env.write(
        "etc/local.conf",
        "BACKUP=TSM\nTSM_LD_LIBRARY_PATH=/opt/tivoli/tsm/client/ba/bin\n"
        "TSM_DSMC_RESTORE_OPTIONS=( -pitdate=2026-11-29 )\n",
    )
    demo = env.root / "restored"
    status, output = cli("-n", "restoreonly", "--demo", str(demo))
    assert status == 0, output
    log_dir = env.var_dir / "restore"
    ld = "LD_LIBRARY_PATH=/opt/tivoli/tsm/client/ba/bin"
    assert calls(record) == [
        ["dsmc", "query", "session", ld, "LC_ALL=C"],
        ["dsmc", "query", "filespace", "-date=2", "-time=1", "-scrollprompt=no", ld, "LC_ALL=C"],
        ["dsmc", "restore", "/", f"{demo}/", "-subdir=yes", "-replace=all", "-tapeprompt=no",
         f"-errorlogname={log_dir}/TSM.root.restore.log", "-pitdate=2026-11-29", ld, "LC_ALL=C"],
        ["dsmc", "restore", "/boot/", f"{demo}/boot/", "-subdir=yes", "-replace=all", "-tapeprompt=no",
         f"-errorlogname={log_dir}/TSM.boot.restore.log", "-pitdate=2026-11-29", ld, "LC_ALL=C"],
    ]  # fmt: skip
    assert (demo / "boot/restored-by-dsmc").is_file()


def test_tsm_unreachable_server_stops_before_anything_is_written(env: RearEnv, cli: Cli, bin_dir: Path) -> None:
    record = env.root / "dsmc.calls"
    _tsm(bin_dir, record, session_rc=12)
    env.write("etc/local.conf", "BACKUP=TSM\n")
    demo = env.root / "restored"
    status, output = cli("-n", "restoreonly", "--demo", str(demo))
    assert status == 1 and "TSM server cannot be reached" in output
    assert not demo.exists() or not any(demo.iterdir())
    assert [c[1:3] for c in calls(record)] == [["query", "session"]]


def test_tsm_mkbackuponly_runs_dsmc_incremental(env: RearEnv, cli: Cli, bin_dir: Path) -> None:
    record = env.root / "dsmc.calls"
    _tsm(bin_dir, record)
    tree = env.root / "tree"
    tree.mkdir()
    env.write("etc/local.conf", f"BACKUP=TSM\nBACKUP_PROG_INCLUDE=( '{tree}' )\nTSM_DSMC_BACKUP_OPTIONS=( -quiet )\n")
    status, output = cli("-n", "mkbackuponly")
    assert status == 0, output
    (call,) = calls(record)
    assert call[:5] == ["dsmc", "incremental", "-verbose", "-tapeprompt=no", "-quiet"]
    assert str(tree) in call


@pytest.mark.parametrize(
    ("method", "missing"),
    [
        ("TSM", "dsmc"),
        ("NSR", "nsrexecd"),
        ("DP", "/opt/omni/lbin/vbda"),
        ("FDRUPSTREAM", "/opt/fdrupstream/fdrupstream"),
    ],
)
def test_mkrescue_stops_in_prep_when_the_client_is_missing(env: RearEnv, cli: Cli, method: str, missing: str) -> None:
    env.write("etc/local.conf", f"BACKUP={method}\nOUTPUT=ISO\n")
    status, output = cli("-n", "mkrescue")
    assert status == 1, output
    assert f"BACKUP={method} needs the" in output and f"and {missing}" in output and "not installed" in output
    assert "install the" in output
    assert not list(env.var_dir.rglob("*.iso"))


def _config(env: RearEnv, text: str) -> Config:
    return shipped_config(env, text, workflow="recover")


def test_nsr_records_save_sets_and_recovers_them(env: RearEnv, cli: Cli, bin_dir: Path) -> None:
    record = env.root / "nsr.calls"
    # savefs -p: one line per save set (NetWorker command reference: "savefs -p ... prints the save sets").
    stand_in(bin_dir / "savefs", record, "echo 'path=/, level=full, diskno=0, max_sessions=1, pool=Default'\n"
             "echo 'path=/boot, level=full, diskno=1, max_sessions=1, pool=Default'\n")  # fmt: skip
    stand_in(bin_dir / "recover", record, 'mkdir -p "$6" && touch "$6/recovered"\n')
    stand_in(bin_dir / "nsrexecd", record)
    nsr_root = env.root / "nsr"
    (nsr_root / "res").mkdir(parents=True)
    (nsr_root / "res/servers").write_text("backup1.example.com\nbackup2.example.com\n")
    conf = f"BACKUP=NSR\nNSR_ROOT_DIR={nsr_root}\n"
    s = nsr.settings(_config(env, conf))
    server, paths = nsr.record(s, env.var_dir / "recovery")
    assert (server, paths) == ("backup1.example.com", ("/", "/boot"))
    env.write("etc/local.conf", conf)
    demo = env.root / "restored"
    status, output = cli("-n", "restoreonly", "--demo", str(demo))
    assert status == 0, output
    assert calls(record)[-2][0] == "nsrexecd"  # the client daemon first, as ReaR's rescue system starts it
    assert calls(record)[-1][:10] == [
        "recover", "-s", "backup1.example.com", "-c", HOST, "-d", str(demo), "-a", "/", "/boot",
    ]  # fmt: skip
    assert (demo / "recovered").is_file()


def test_dp_restores_the_newest_session_with_one_omnir(env: RearEnv, cli: Cli, tmp_path: Path) -> None:
    record = env.root / "dp.calls"
    omni, client = tmp_path / "omni", tmp_path / "etc-omni"
    objects, sessions = tmp_path / "objects.txt", tmp_path / "sessions.txt"
    objects.write_text(DP_OBJECTS)
    sessions.write_text(DP_SESSIONS)
    stand_in(omni / "bin/omnidb", record, f'[ $# -eq 1 ] && cat "{objects}" || cat "{sessions}"\n')
    stand_in(omni / "bin/omnir", record, "exit 10\n")  # omnir: 10 = finished with warnings
    stand_in(omni / "lbin/vbda", record)
    (client / "sscertificates").mkdir(parents=True)
    (client / "cell_server").write_text("cellmanager.example.com\n")
    (client / "sscertificates/localhost_cert.pem").write_text("CERT\n")
    env.write("etc/local.conf", f"BACKUP=DP\nCOPY_AS_IS_DP=( {omni} {client} )\nDP_LD_LIBRARY_PATH={omni}/lib\n")
    demo = env.root / "restored"
    status, output = cli("-n", "restoreonly", "--demo", str(demo))
    assert status == 0, output
    omnir = [c for c in calls(record) if c[0] == "omnir"]
    per_fs = ["-full", "-omit_unrequired_object_versions", "-no_resumable", "-overwrite"]
    assert omnir == [[
        "omnir",
        "-filesystem", f"{HOST}:/", "/", "-session", "2026/11/29-3", *per_fs, "-tree", "/", "-into", str(demo),
        "-sparse", "-target", HOST,
        "-filesystem", f"{HOST}:/boot", "/boot", "-session", "2026/11/29-3", *per_fs, "-tree", "/boot",
        "-into", str(demo), "-sparse", "-target", HOST,
        f"LD_LIBRARY_PATH={omni}/lib", "LC_ALL=",
    ]]  # fmt: skip
    s = dp.settings(_config(env, f"BACKUP=DP\nCOPY_AS_IS_DP=( {omni} {client} )\n"))
    dp.copy_certificates(s, demo)
    assert (demo / str(client).lstrip("/") / "sscertificates/localhost_cert.pem").read_text() == "CERT\n"
    # Without cell_server the restore stops before writing.
    (client / "cell_server").unlink()
    status, output = cli("-n", "restoreonly", "--demo", str(env.root / "second"))
    assert status == 1 and "cell_server names no Data Protector cell manager" in output


def test_fdrupstream_starts_the_client_hands_over_and_keeps_the_logs(env: RearEnv, cli: Cli, tmp_path: Path) -> None:
    record = env.root / "fdr.calls"
    install, data = tmp_path / "fdr", tmp_path / "var-fdr"
    stand_in(install / "fdrupstream", record)
    (data / "svc1/logs").mkdir(parents=True)
    (data / "svc1/logs/restore.rpt").write_text("report\n")
    conf = f"BACKUP=FDRUPSTREAM\nFDRUPSTREAM_INSTALL_PATH={install}\nFDRUPSTREAM_DATA_PATH={data}\n"
    env.write("etc/local.conf", conf)
    demo = env.root / "restored"
    # Non-interactive: refused in verify, before anything starts or is written.
    status, output = cli("-n", "restoreonly", "--demo", str(demo))
    assert status == 1 and "non-interactive" in output and not record.exists()
    s = fdrupstream.settings(_config(env, conf))
    fdrupstream.start(s)
    assert calls(record) == [["fdrupstream", "start", "LD_LIBRARY_PATH=", "LC_ALL="]]
    answers = iter(["\n"])
    hand_over(fdrupstream.instructions(demo), demo, interactive=False, read_line=lambda: next(answers))
    copied = fdrupstream.copy_logs(s, demo)
    assert [p.read_text() for p in copied] == ["report\n"]
    assert copied[0].parent == demo / str(data).lstrip("/") / "rear/logs"


def _tsm_payload(env: RearEnv, tmp_path: Path) -> tuple[Path, Path]:
    client = tmp_path / "tivoli/client"
    (client / "ba/bin").mkdir(parents=True)
    (client / "ba/bin/dsm.sys").write_text("SErvername SERVER1\n   TCPServeraddress 192.0.2.10\n")
    (client / "ba/bin/libApiTSM64.so").write_bytes(b"\0" * 4096)
    (client / "ba/bin/dsmerror.log").write_text("left out\n")
    dsmc = stand_in(tmp_path / "tivoli/bin/dsmc", tmp_path / "dsmc.calls")
    env.write(
        "etc/local.conf",
        f"BACKUP=TSM\nOUTPUT=ISO\nPROGS_TSM=( {dsmc} )\nCOPY_AS_IS_TSM=( {client} )\n"
        f"COPY_AS_IS_EXCLUDE_TSM=( '*.log' )\nTSM_LD_LIBRARY_PATH={client}/ba/bin\n",
    )
    return client, dsmc


def test_dump_lists_the_methods_payload_with_sizes(env: RearEnv, cli: Cli, tmp_path: Path) -> None:
    client, dsmc = _tsm_payload(env, tmp_path)
    status, output = cli("dump")
    assert status == 0, output
    size = dsmc.stat().st_size
    assert f"program {dsmc}: {dsmc} ({size} bytes)" in output
    # dsm.sys and the library; the excluded log is not counted.
    assert f"files: {client}: 2 files, {4096 + len((client / 'ba/bin/dsm.sys').read_text())} bytes" in output
    assert f"LD_LIBRARY_PATH for the client: {client}/ba/bin" in output


def test_manifest_records_the_methods_payload(env: RearEnv, cli: Cli, tmp_path: Path) -> None:
    client, dsmc = _tsm_payload(env, tmp_path)
    out = env.root / "manifest.json"
    status, output = cli("-n", "collect", "-o", str(out))
    assert status == 0, output
    payload = Manifest.read(out).backup_payload
    assert payload["method"] == "TSM" and payload["programs"] == {"dsmc": dsmc.stat().st_size}
    assert payload["file_count"] == 2 and payload["programs_missing"] == []
    assert payload["ld_library_path"] == f"{client}/ba/bin"


def test_tsm_saves_the_rescue_image_in_tsm_result_file_path(env: RearEnv, bin_dir: Path, tmp_path: Path) -> None:
    record = env.root / "dsmc.calls"
    _tsm(bin_dir, record)
    iso = tmp_path / "out/rear-host.iso"
    iso.parent.mkdir()
    iso.write_bytes(b"ISO")
    where = tmp_path / "tsm-rear"
    conf = f"BACKUP=TSM\nTSM_RESULT_FILE_PATH={where}\nTSM_LD_LIBRARY_PATH=\n"
    s = tsm.settings(shipped_config(env, conf, workflow="mkrescue"))
    assert tsm.save_results(s, [iso], tmp_path / "work") == (where / "rear-host.iso",)
    assert (where / "rear-host.iso").read_bytes() == b"ISO"
    assert calls(record) == [["dsmc", "incremental", str(where / "rear-host.iso"), "LD_LIBRARY_PATH=", "LC_ALL=C"]]
    # With a management class: dsmc archive -archmc=CLASS.
    s = tsm.settings(shipped_config(env, conf + "TSM_ARCHIVE_MGMT_CLASS=REAR\n", workflow="mkrescue"))
    tsm.save_results(s, [iso], tmp_path / "work")
    assert calls(record)[-1][:3] == ["dsmc", "archive", "-archmc=REAR"]


def test_a_backup_method_is_no_output(env: RearEnv, cli: Cli) -> None:
    """recipes/output/TSM saves BACKUP=TSM's results; it does not make TSM an OUTPUT."""
    env.write("etc/local.conf", "OUTPUT=TSM\n")
    status, output = cli("-n", "mkrescue")
    assert status == 1 and "OUTPUT='TSM' is not a method rearbuild has" in output
    assert "choose one of:" in output and "TSM" not in output.split("choose one of:")[1]
