"""The configuration cascade (rearbuild.config.loader): ReaR's order and syntax, workflow files, unknown variables
and a missing -C file."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from rearbuild.config.loader import LoadRequest, load
from rearbuild.errors import UserError
from rearbuild.facts import detect
from rearbuild.paths import Paths
from tests.conftest import RearEnv

Run = Callable[..., tuple[int, str, str]]


REALISTIC_LOCAL_CONF = r"""# /etc/rear/local.conf as ReaR users write it
OUTPUT=ISO
BACKUP=NETFS
BACKUP_URL=nfs://backupserver/srv/rear   # a comment after a value
OUTPUT_URL="file:///var/lib/rear/output/$(echo iso)"
BACKUP_PROG_EXCLUDE=( "${BACKUP_PROG_EXCLUDE[@]}" '/mnt/*' "/var/tmp/*" )
PROGS+=( 'ethtool' "mt" )
COPY_AS_IS+=( /etc/multipath.conf \
              /etc/iscsi )
if [ "$OUTPUT" = ISO ] ; then
    ISO_DEFAULT=automatic
else
    ISO_DEFAULT=manual
fi
KERNEL_CMDLINE="$KERNEL_CMDLINE net.ifnames=0"
SSH_ROOT_PASSWORD='s3cr3t "quoted" $notexpanded'
"""


def values(rear_env: RearEnv, run: Run, *extra: str, status: int = 0) -> dict[str, str]:
    got, out, err = run(*extra, "dump")
    assert got == status, err
    result = {}
    for line in out.splitlines():
        if line.startswith("#") or "=" not in line:
            continue
        assignment, _, origin = line.partition("  # ")
        name, _, value = assignment.rstrip().partition("=")
        result[name] = f"{value}  @{origin}"
    return result


def test_realistic_rear_local_conf(rear_env: RearEnv, rearbuild: Run) -> None:
    local = rear_env.write("etc/local.conf", REALISTIC_LOCAL_CONF)
    # nfs:// is not implemented yet: dump shows everything, then names the problem and exits 1
    v = values(rear_env, rearbuild, status=1)
    assert v["BACKUP"] == f"'NETFS'  @{local}"
    assert v["BACKUP_URL"].startswith("'nfs://backupserver/srv/rear'")
    assert v["OUTPUT_URL"].startswith("'file:///var/lib/rear/output/iso'")
    assert v["PROGS"].startswith("('ethtool' 'mt')")
    assert v["COPY_AS_IS"].startswith("('/etc/multipath.conf' '/etc/iscsi')")
    # "${BACKUP_PROG_EXCLUDE[@]}" kept default.conf's entries, the file appended its own
    assert v["BACKUP_PROG_EXCLUDE"].startswith(
        f"('/tmp/*' '/dev/shm/*' '{rear_env.var_dir}/output/*' '/mnt/*' '/var/tmp/*')"
    )
    assert v["ISO_DEFAULT"].startswith("'automatic'")
    assert v["KERNEL_CMDLINE"].startswith("' net.ifnames=0'")
    # secrets are masked unless -e
    assert v["SSH_ROOT_PASSWORD"].startswith("'***'")
    exposed = values(rear_env, rearbuild, "-e", status=1)
    assert exposed["SSH_ROOT_PASSWORD"].startswith("""'s3cr3t "quoted" $notexpanded'""")


def test_precedence_default_arch_os_vendor_site_local_extra(rear_env: RearEnv, rearbuild: Run) -> None:
    # Each layer sets LEVEL and appends to TRAIL; the last file wins and every file is read in ReaR's order.
    shared = rear_env.share_dir / "conf"
    with (shared / "default.conf").open("a") as f:
        f.write("\nLEVEL=default\nTRAIL=( default )\n")
    os_conf = "OS_VENDOR=Debian\nOS_VERSION=12\n"
    rear_env.write("etc/os.conf", os_conf)
    files = {
        "share/conf/Linux-i386.conf": "arch",
        "share/conf/GNU/Linux.conf": "os",
        "share/conf/Debian.conf": "vendor",
        "share/conf/Debian/12.conf": "version",
        "etc/mkrescue.conf": "workflow",
        "etc/site.conf": "site",
        "etc/local.conf": "local",
        "etc/extra.conf": "extra",
    }
    for path, name in files.items():
        rear_env.write(path, f"LEVEL={name}\nTRAIL+=( {name} )\n")
    v = values(rear_env, rearbuild, "-C", "extra")
    assert v["LEVEL"] == f"'extra'  @{rear_env.config_dir / 'extra.conf'}"
    # workflow.conf is read for its workflow only (dump here), so it is absent from the trail
    assert v["TRAIL"].startswith("('default' 'arch' 'os' 'vendor' 'version' 'site' 'local' 'extra')")
    without_extra = values(rear_env, rearbuild)
    assert without_extra["LEVEL"].startswith("'local'")


def test_workflow_conf_applies_to_its_workflow(rear_env: RearEnv, rearbuild: Run) -> None:
    dump_conf = rear_env.write("etc/dump.conf", "KERNEL_CMDLINE=from-dump-conf\n")
    rear_env.write("etc/mkrescue.conf", "KERNEL_CMDLINE=from-mkrescue-conf\n")
    assert values(rear_env, rearbuild)["KERNEL_CMDLINE"] == f"'from-dump-conf'  @{dump_conf}"


def test_unknown_variable_warns_with_a_suggestion(rear_env: RearEnv, rearbuild: Run) -> None:
    local = rear_env.write("etc/local.conf", "OUTPUT=ISO\nISO_DEFALT=automatic\n")
    status, _, err = rearbuild("dump")
    assert status == 0
    assert f"{local}:2: ISO_DEFALT is not a rearbuild configuration variable (did you mean ISO_DEFAULT?)" in err


def test_missing_extra_config_file(rear_env: RearEnv, rearbuild: Run) -> None:
    status, _, err = rearbuild("-C", "nothere", "dump")
    assert status == 1 and "nothere" in err and "not found" in err


def test_unset_of_a_default_conf_variable_reads_as_empty(rear_env: RearEnv, rearbuild: Run) -> None:
    # ReaR's scripts expand an unset variable to nothing (no `set -u`): rearbuild reads it the same way
    rear_env.write("etc/local.conf", "unset BACKUP_URL BACKUP_PROG BACKUP_PROG_INCLUDE\n")
    rear_env.write(
        "etc/recipes/layout/save/100_read.py",
        "def main(ctx):\n"
        "    text = [ctx.text('BACKUP_URL'), ctx.text('BACKUP_PROG'), *ctx.items('BACKUP_PROG_INCLUDE')]\n"
        "    (ctx.paths.var_dir / 'read').write_text(repr(text))\n",
    )
    status, _, err = rearbuild("savelayout")
    assert status == 0, err
    assert (rear_env.var_dir / "read").read_text() == "['', '']"


@pytest.mark.parametrize("kind", ["missing", "file", "dangling symlink", "fifo"])
def test_a_config_dir_given_with_c_must_be_a_directory(rear_env: RearEnv, rearbuild: Run, kind: str) -> None:
    given = rear_env.root / "conf-given"
    make_kind(given, kind)
    status, out, err = rearbuild("-c", str(given), "dump")
    assert status == 1 and out == ""
    assert str(given) in err and "hint:" in err


@pytest.mark.parametrize("kind", ["directory", "dangling symlink", "fifo"])
@pytest.mark.parametrize("name", ["local.conf", "site.conf", "os.conf"])
def test_a_config_file_that_is_not_a_file_is_refused(rear_env: RearEnv, rearbuild: Run, kind: str, name: str) -> None:
    path = rear_env.config_dir / name
    make_kind(path, kind)
    status, out, err = rearbuild("dump")
    assert status == 1 and out == ""
    assert f"{path} is a {kind}" in err and "hint:" in err


@pytest.mark.parametrize("kind", ["directory", "dangling symlink", "fifo"])
def test_an_extra_config_that_is_not_a_file_is_named(rear_env: RearEnv, rearbuild: Run, kind: str) -> None:
    path = rear_env.root / "extra.conf"
    make_kind(path, kind)
    status, out, err = rearbuild("-C", str(path), "dump")
    assert status == 1 and out == ""
    assert f"{path} is a {kind}" in err


def test_a_missing_default_config_dir_is_fine(rear_env: RearEnv) -> None:
    # a fresh machine has no /etc/rear: the defaults apply; only a directory the user named must exist
    assert Paths.resolve(environ={}).config_dir_required is False
    assert Paths.resolve(config_dir="/x", environ={}).config_dir_required is True
    assert Paths.resolve(environ={"REARBUILD_CONFIG_DIR": "/x"}).config_dir_required is True
    named = Paths.resolve(config_dir=str(rear_env.root / "absent"), share_dir=str(rear_env.share_dir), environ={})
    request = LoadRequest(paths=named, workflow="dump", facts=detect(), readonly={}, presets={"HOSTNAME": "h"})
    with pytest.raises(UserError, match="does not exist"):
        load(request)
    default = dataclasses.replace(named, config_dir_required=False)
    config, _ = load(dataclasses.replace(request, paths=default))
    assert config.text("OUTPUT") == "ISO"


def make_kind(path: Path, kind: str) -> None:
    match kind:
        case "missing":
            pass
        case "file":
            path.write_text("OUTPUT=ISO\n")
        case "directory":
            path.mkdir()
        case "dangling symlink":
            path.symlink_to(path.parent / "nowhere")
        case "fifo":
            os.mkfifo(path)
