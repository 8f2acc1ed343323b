"""`rearbuild build --container` through Podman's API service (issue 13): the builder image from the Containerfile,
base `debian:12` made here (debootstrap + `podman import`: no registry is reachable), and the local CI pipeline
(ci/pipeline/local) building one bundle twice in the container gives the ISO `rearbuild image` gives on the host,
byte for byte; a wrong engine URL is a one-line error naming the fix; no container is left behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from rearbuild.checksum import sha256_bytes
from rearbuild.container import build_image, connect
from rearbuild.errors import UserError
from tests.integration.output.stores.servers import Server, running
from tests.integration.test_bundle import _iso, _layout, _run

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
MIRROR = "http://deb.debian.org/debian"
# debootstrap takes 30-100 s here: later sessions import the tree it made (a plain tar of a minbase bookworm).
BASE_CACHE = Path("/var/cache/rearbuild-tests/debian-12-minbase.tar")


@dataclass(frozen=True)
class Podman:
    url: str
    storage: tuple[str, ...]  # podman's options for the service's own storage, for the CLI

    def cli(self, *args: str) -> str:
        result = subprocess.run(["podman", *self.storage, *args], capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        return result.stdout


def _base_tarball(tmp: Path) -> Path:
    if not BASE_CACHE.is_file():
        tree = tmp / "rootfs"
        subprocess.run(["debootstrap", "--variant=minbase", "bookworm", str(tree), MIRROR],
                       check=True, capture_output=True, timeout=900)  # fmt: skip
        BASE_CACHE.parent.mkdir(parents=True, exist_ok=True)
        part = BASE_CACHE.with_name(BASE_CACHE.name + ".part")
        subprocess.run(["tar", "--numeric-owner", "-C", str(tree), "-cf", str(part), "."], check=True, timeout=300)
        part.replace(BASE_CACHE)
        shutil.rmtree(tree)
    return BASE_CACHE


@pytest.fixture(scope="session")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Podman]:
    """`podman system service` on a socket of its own, with storage of its own (nothing of the machine's other
    containers is seen or touched), chroot isolation for RUN steps (reference §1b), and debian:12 imported."""
    top = tmp_path_factory.mktemp("podman")
    storage = ("--root", str(top / "root"), "--runroot", str(top / "runroot"))
    socket = top / "podman.sock"
    env = dict(os.environ, BUILDAH_ISOLATION="chroot")
    for name in ("CONTAINER_HOST", "DOCKER_HOST"):
        env.pop(name, None)
    with (top / "service.log").open("wb") as log:
        service = subprocess.Popen(["podman", *storage, "system", "service", "--time=0", f"unix://{socket}"],
                                   stdout=log, stderr=subprocess.STDOUT, env=env)  # fmt: skip
    try:
        for _ in range(150):  # the service creates its socket within a second or two
            if socket.is_socket() or service.poll() is not None:
                break
            time.sleep(0.2)
        assert socket.is_socket(), (top / "service.log").read_text()
        client = docker.DockerClient(base_url=f"unix://{socket}")
        assert client.ping(), (top / "service.log").read_text()
        pod = Podman(f"unix://{socket}", storage)
        pod.cli("import", str(_base_tarball(top)), "debian:12")
        yield pod
    finally:
        service.terminate()
        service.wait(timeout=60)
        # the images' layers (a few hundred MB) would stay in the kept temporary directories otherwise
        subprocess.run(["podman", *storage, "system", "reset", "--force"], capture_output=True, timeout=300)


@dataclass(frozen=True)
class Host:
    root: Path
    bundle: Path
    iso: bytes


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Host:
    """A bundle of this host and the ISO `rearbuild image` makes here, of one disk layout (test_bundle.py)."""
    root = tmp_path_factory.mktemp("container")
    bundle = root / "host.tar"
    for _ in range(3):
        for part in ("host", "collect"):
            shutil.rmtree(root / part, ignore_errors=True)
        result = _run(root / "collect", root / "out-host", "collect", "--bundle", str(bundle))
        assert result.returncode == 0, result.stderr[-3000:]
        result = _run(root / "host", root / "out-host", "image")
        assert result.returncode == 0, result.stderr[-3000:]
        if _layout(root / "collect" / "var") == _layout(root / "host" / "var"):
            break
    assert _layout(root / "collect" / "var") == _layout(root / "host" / "var"), "the host's disk layout kept changing"
    return Host(root, bundle, _iso(root / "out-host").read_bytes())


@dataclass(frozen=True)
class Pipeline:
    result: subprocess.CompletedProcess[str]
    workdir: Path
    published: str  # where --publish sent the first runner's results
    env: dict[str, str]  # with the registry's credentials (docker config.json below a private HOME)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Debian's docker-registry on 127.0.0.1 with a password: where the pipeline publishes (as to ghcr.io)."""
    yield from running("oci", tmp_path_factory.mktemp("registry"))


@pytest.fixture(scope="module")
def pipeline(host: Host, podman: Podman, registry: Server) -> Pipeline:
    """ci/pipeline/local on the host's bundle: two builds in the container, each in its own directories, then the
    first runner's results published to a real OCI registry."""
    workdir = host.root / "pipeline"
    env = dict(registry.env(host.root / "home"), REARBUILD=str(REPO / ".venv" / "bin" / "rearbuild"))
    for name in ("SOURCE_DATE_EPOCH", "REARBUILD_CACHE_DIR", "CONTAINER_HOST", "DOCKER_HOST"):
        env.pop(name, None)
    published = registry.url("pipeline")
    result = subprocess.run(
        [str(REPO / "ci" / "pipeline" / "local"), "--workdir", str(workdir), "--engine", podman.url,
         "--bundle", str(host.bundle), "--publish", published],
        capture_output=True, text=True, timeout=1200, env=env,
    )  # fmt: skip
    return Pipeline(result, workdir, published, env)


def test_the_local_pipeline_builds_twice_in_the_container_and_the_runners_agree(pipeline: Pipeline) -> None:
    assert pipeline.result.returncode == 0, pipeline.result.stdout[-3000:] + pipeline.result.stderr[-3000:]
    sums = [sorted((pipeline.workdir / r / "out").rglob("*.sha256")) for r in ("runner-1", "runner-2")]
    assert sums[0] and [p.name for p in sums[0]] == [p.name for p in sums[1]]
    for one, two in zip(*sums, strict=True):
        assert one.read_text() == two.read_text()
        assert f"identical: {one.read_text().strip()}" in pipeline.result.stdout
    assert "container engine: Podman" in pipeline.result.stderr + pipeline.result.stdout


def test_the_container_build_gives_the_hosts_iso_byte_for_byte(host: Host, pipeline: Pipeline) -> None:
    assert pipeline.result.returncode == 0, pipeline.result.stderr[-3000:]
    for runner in ("runner-1", "runner-2"):
        built = _iso(pipeline.workdir / runner / "out")
        # digests, not the bytes: pytest's diff of two 70 MB byte strings runs for hours
        assert sha256_bytes(built.read_bytes()) == sha256_bytes(host.iso), (
            f"the ISO built in the container differs from the host's: diffoscope {_iso(host.root / 'out-host')} "
            f"{built}"
        )


def test_the_pipeline_publishes_what_it_built_and_fetch_gives_back_the_hosts_iso(
    host: Host, pipeline: Pipeline, tmp_path: Path
) -> None:
    assert pipeline.result.returncode == 0, pipeline.result.stderr[-3000:]
    fetched = subprocess.run(
        [str(REPO / ".venv" / "bin" / "rearbuild"), "--var-dir", str(tmp_path / "var"), "--log-dir",
         str(tmp_path / "log"), "--tmpdir", str(tmp_path), "-c", str(tmp_path / "log"), "fetch", pipeline.published,
         str(tmp_path / "fetched")],
        capture_output=True, text=True, timeout=300, env=pipeline.env,
    )  # fmt: skip
    assert fetched.returncode == 0, fetched.stderr[-3000:]
    iso = _iso(tmp_path)  # <dir>/<host>/rear-<host>.iso; fetch puts the files straight into its DIR
    assert sha256_bytes((tmp_path / "fetched" / iso.name).read_bytes()) == sha256_bytes(host.iso)


def test_the_builder_image_is_built_once_and_no_container_is_left(pipeline: Pipeline, podman: Podman) -> None:
    assert pipeline.result.returncode == 0, pipeline.result.stderr[-3000:]
    output = pipeline.result.stdout + pipeline.result.stderr
    assert output.count(": building (once; the next build reuses it)") == 1, output[-3000:]
    assert output.count(": present") == 1
    # --external: also buildah's working containers, which a failed build step can leave
    assert podman.cli("ps", "--all", "--external", "--quiet").split() == []
    images = podman.cli("images", "--format", "{{.Repository}}:{{.Tag}}").split()
    assert not [i for i in images if "rearbuild-builder-job" in i], images


@pytest.mark.parametrize("url", ["unix:///nonexistent/podman.sock", "tcp://127.0.0.1:9"])
def test_a_wrong_engine_url_is_a_one_line_error_naming_the_fix(host: Host, url: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _run(tmp_path, out, "build", "--container", "--engine", url, str(host.bundle))
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 2, result.stderr  # the message and its hint
    assert f"no container engine answers at {url}" in errors[0]
    assert "podman system service" in errors[1] and "DOCKER_HOST" in errors[1]
    assert not out.exists()


def test_the_pipeline_script_passes_shellcheck() -> None:
    result = subprocess.run(["shellcheck", str(REPO / "ci" / "pipeline" / "local")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_a_failed_build_step_is_a_clear_error_and_leaves_no_working_container(podman: Podman, tmp_path: Path) -> None:
    (tmp_path / "Containerfile").write_text("FROM debian:12\nRUN echo about to fail && false\n")
    conn = connect(podman.url)
    with pytest.raises(UserError, match=r"building the probe failed: .*RUN echo about to fail"):
        build_image(conn, tmp_path, "rearbuild-test-failing:1", "probe", cache=False)
    assert podman.cli("ps", "--all", "--external", "--quiet").split() == []
