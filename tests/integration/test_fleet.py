"""The fleet playbook (fleet/ansible) run for real: three distinct Debian chroots as hosts (ansible's
community.general.chroot connection), this machine as the builder. Each host's bundle is collected and fetched,
each image built once through one shared, content-addressed cache; a second run changes nothing; a secret in a
host's configuration never appears in the play's output; an image built with a warm shared cache is byte-identical
to the same bundle built with an empty cache."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.fleet_targets import CHECKOUT, Target, targets

pytestmark = pytest.mark.slow

PLAYBOOK = CHECKOUT / "fleet" / "ansible" / "site.yml"
SECRET = "Fleet-Secret-Key-0815"


@dataclass(frozen=True)
class Fleet:
    work: Path
    hosts: list[Target]
    first: subprocess.CompletedProcess[str]


def _rearbuild() -> str:
    return str(Path(sys.executable).parent / "rearbuild")


def _play(work: Path, hosts: list[Target]) -> subprocess.CompletedProcess[str]:
    inventory = work / "inventory.ini"
    lines = ["[rearbuild_hosts]"]
    lines += [f"{t.name} ansible_host={t.root} ansible_connection=community.general.chroot" for t in hosts]
    lines += ["", "[rearbuild_builder]", "builder ansible_connection=local", "",
              "[all:vars]", "ansible_python_interpreter=/usr/bin/python3"]  # fmt: skip
    inventory.write_text("\n".join(lines) + "\n")
    extra = {
        "rearbuild_bundle_dir": work / "bundles",
        "rearbuild_work_dir": work / "builder",
        "rearbuild_output_dir": work / "output",
        "rearbuild_cache_dir": work / "cache",
    }
    argv = ["ansible-playbook", "-i", str(inventory), str(PLAYBOOK)]
    for key, value in extra.items():
        argv += ["-e", f"{key}={value}"]
    # the builder's rearbuild: this checkout's; a host's: the wrapper fleet_targets puts in its PATH
    argv += ["-e", '{"rearbuild_command": "rearbuild"}']
    argv += ["-e", "rearbuild_no_log=" + os.environ.get("FLEET_NO_LOG", "true")]
    path = f"{Path(_rearbuild()).parent}:{os.environ['PATH']}"
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_RETRY_FILES_ENABLED="false", PATH=path)  # fmt: skip
    for name in ("SOURCE_DATE_EPOCH", "REARBUILD_CACHE_DIR"):
        env.pop(name, None)
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900, cwd=work)


def _recap(output: str) -> dict[str, dict[str, int]]:
    recap: dict[str, dict[str, int]] = {}
    for line in output.split("PLAY RECAP", 1)[1].splitlines():
        match = re.match(r"^(\S+)\s*:\s*(.*)$", line.strip())
        if match:
            recap[match[1]] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match[2])}
    return recap


def _iso(work: Path, host: str) -> Path:
    (iso,) = (work / "output" / host).glob("*/*.iso")
    return iso


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    work = tmp_path_factory.mktemp("fleet")
    secret = f"{{ BACKUP_PROG_CRYPT_KEY='{SECRET}' ; }} 2>/dev/null\n"
    # a few modules (and what they need), alike on every host, keep the test's builds to seconds
    common = "MODULES=( virtio_blk virtio_net ext4 xfs vfat )\n"
    specs = [
        ("alpha", [], common),
        ("bravo", ["xfsprogs", "dosfstools"], common + "COPY_AS_IS+=( /etc/fleet-host.id )\n"),
        ("charlie", ["gdisk", "ethtool", "nano"], common + "COPY_AS_IS+=( /etc/fleet-host.id )\n" + secret),
    ]
    with targets(work, specs) as hosts:
        first = _play(work, hosts)
        assert first.returncode == 0, first.stdout[-5000:] + first.stderr[-3000:]
        yield Fleet(work, hosts, first)


def test_every_host_is_collected_fetched_and_built(fleet: Fleet) -> None:
    bundles = {t.name: (fleet.work / "bundles" / f"{t.name}.tar").read_bytes() for t in fleet.hosts}
    assert len(set(bundles.values())) == 3, "three distinct hosts give three distinct bundles"
    for t in fleet.hosts:
        assert _iso(fleet.work, t.name).stat().st_size > 10 << 20
    recap = _recap(fleet.first.stdout)
    assert all(recap[t.name]["failed"] == 0 and recap[t.name]["changed"] > 0 for t in fleet.hosts)
    assert recap["builder"]["changed"] > 0


def test_the_shared_cache_reuses_what_hosts_share(fleet: Fleet) -> None:
    # alpha was built first with an empty cache; bravo and charlie reuse its kernel modules and Python segments
    for t in fleet.hosts[1:]:
        logs = "".join(p.read_text() for p in (fleet.work / "builder" / t.name / "log").rglob("*.log"))
        assert re.search(r"initrd segment modules: cached", logs), t.name
        assert re.search(r"initrd segment python: cached", logs), t.name
        assert re.search(r"initrd segment base: \d+ -> \d+ bytes", logs), f"{t.name}'s own programs are new"
    segments = list((fleet.work / "cache" / "initrd").glob("*.cpio.zst"))
    assert len(segments) < 3 * 5, "segments shared by the hosts are stored once"


def test_a_warm_cache_gives_the_bytes_of_an_empty_one(fleet: Fleet, tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "local.conf").write_text(f"OUTPUT_URL=file://{tmp_path / 'out'}\n")
    argv = [_rearbuild(), "-c", str(etc), "--var-dir", str(tmp_path / "var"), "--log-dir", str(tmp_path / "log"),
            "--cache-dir", str(tmp_path / "cold"), "build", str(fleet.work / "bundles" / "charlie.tar")]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    (cold,) = (tmp_path / "out").glob("*/*.iso")
    assert cold.read_bytes() == _iso(fleet.work, "charlie").read_bytes()


def test_the_play_shows_no_secret(fleet: Fleet) -> None:
    assert (fleet.work / "bundles" / "charlie.tar").stat().st_mode & 0o077 == 0
    assert SECRET not in fleet.first.stdout + fleet.first.stderr


def test_a_second_run_changes_nothing(fleet: Fleet) -> None:
    again = _play(fleet.work, fleet.hosts)
    assert again.returncode == 0, again.stdout[-5000:]
    recap = _recap(again.stdout)
    assert {name: r["changed"] for name, r in recap.items()} == {t.name: 0 for t in [*fleet.hosts]} | {"builder": 0}
    assert SECRET not in again.stdout + again.stderr
