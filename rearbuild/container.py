"""`rearbuild build --container`: build a bundle inside the builder environment (the Containerfile) through a
container engine's API, with the Python `docker` SDK, against a Docker daemon or Podman's API service.

Two image builds, both plain builds so that no container is ever started (measured on hosts where `podman run`
cannot work, /work/shared/reference/containers-artifacts.md §1c): the builder image from the Containerfile and a
wheelhouse (rearbuild's wheel and its dependencies'), tagged by their hash so a second build reuses it; then a
job image FROM it whose RUN step runs `rearbuild build` on the bundle. The results come out of a container that
is created and never started (get_archive), which is removed again, with the job image.

Podman's Docker-compatible /build endpoint always uses OCI isolation, whose RUN steps fail where crun cannot
create containers (§1a); its libpod endpoint takes isolation=chroot (§1b), so against Podman the builds go there
through the docker SDK's own session. Against Docker the standard images build is used.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import logging
import os
import shutil
import sys
import tarfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from rearbuild.checksum import sha256_file
from rearbuild.errors import UserError
from rearbuild.log import notice
from rearbuild.run import run

log = logging.getLogger("rearbuild.container")

# The usual sockets, in the order tried: Podman's system service (root), then Docker's daemon.
DEFAULT_SOCKETS = (Path("/run/podman/podman.sock"), Path("/var/run/docker.sock"))
ENGINE_VARIABLES = ("CONTAINER_HOST", "DOCKER_HOST")
_ENGINE_HINT = (
    "start Podman's API service (`podman system service --time=0 unix:///run/podman/podman.sock`), or set "
    "DOCKER_HOST (or pass --engine URL, e.g. unix:///var/run/docker.sock)"
)
BUILDER_REPOSITORY = "rearbuild-builder"
# Inside the job image: the builder's configuration, the bundle and the results (OUTPUT_URL=file://...).
_JOB_ROOT = "/rearbuild"
_OUT = f"{_JOB_ROOT}/out"
# A whole image build (apt, a rescue image) on a slow machine: far longer than the SDK's default of 60 s.
_API_TIMEOUT = 3600


class Engine(enum.Enum):
    DOCKER = "Docker"
    PODMAN = "Podman"

    @classmethod
    def of(cls, version: Mapping[str, Any]) -> Engine:
        """Podman's API service names itself among the version's components ("Podman Engine")."""
        names = [str(c.get("Name", "")) for c in version.get("Components") or () if isinstance(c, Mapping)]
        return cls.PODMAN if any("podman" in n.lower() for n in names) else cls.DOCKER


def engine_url(explicit: str | None, environ: Mapping[str, str], sockets: Iterable[Path] = DEFAULT_SOCKETS) -> str:
    """--engine, else CONTAINER_HOST/DOCKER_HOST, else the first of the usual sockets that exists."""
    if explicit:
        return explicit
    for name in ENGINE_VARIABLES:
        if environ.get(name, "").strip():
            return environ[name].strip()
    for socket in sockets:
        if socket.is_socket():
            return f"unix://{socket}"
    raise UserError("no container engine found (no --engine, CONTAINER_HOST, DOCKER_HOST or socket)", hint=_ENGINE_HINT)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


@dataclass
class Connection:
    client: Any  # docker.DockerClient: the SDK is typed loosely
    url: str
    engine: Engine
    version: str


def connect(url: str) -> Connection:
    """A client for the engine at url that answered; a UserError naming the fix when none does."""
    try:
        import docker
    except ImportError as exc:
        raise UserError(
            "the Python package `docker` is missing", hint="pip install 'rearbuild[container]'"
        ) from exc
    try:
        client = docker.DockerClient(base_url=url, timeout=_API_TIMEOUT)
        version = client.version()
    except Exception as exc:  # the SDK raises DockerException, requests' errors and ValueError for a bad URL
        raise UserError(f"no container engine answers at {url}: {_one_line(exc)}", hint=_ENGINE_HINT) from exc
    engine = Engine.of(version)
    return Connection(client, url, engine, str(version.get("Version", "?")))


def wheel_digest(wheel: Path) -> str:
    """The hash of a wheel's contents (names and bytes), not of the zip: a rebuilt wheel of the same sources
    differs in its zip timestamps only, and must not rebuild the builder image."""
    h = hashlib.sha256()
    with zipfile.ZipFile(wheel) as z:
        for info in sorted(z.infolist(), key=lambda i: i.filename):
            h.update(info.filename.encode() + b"\0")
            h.update(hashlib.sha256(z.read(info)).digest())
    return h.hexdigest()


def builder_tag(containerfile: Path, wheelhouse: Path) -> str:
    """rearbuild-builder:<hash of the Containerfile and the wheelhouse's contents>."""
    wheels = sorted(wheelhouse.glob("*.whl"))
    if not any(w.name.startswith("rearbuild-") for w in wheels):
        raise UserError(
            f"the wheelhouse {wheelhouse} has no rearbuild wheel",
            hint=f"python3 -m pip wheel --wheel-dir {wheelhouse} <rearbuild checkout>",
        )
    h = hashlib.sha256(b"rearbuild-builder\0" + containerfile.read_bytes())
    for wheel in wheels:
        h.update(f"\0{wheel.name}\0{wheel_digest(wheel)}".encode())
    return f"{BUILDER_REPOSITORY}:{h.hexdigest()[:20]}"


def _stream(chunks: Iterator[dict[str, Any]], what: str) -> None:
    """Relay an image build's output: everything to the log, each step as a progress line; its error as ours."""
    for chunk in chunks:
        if "error" in chunk or "errorDetail" in chunk:
            detail = chunk.get("error") or chunk.get("errorDetail", {}).get("message", "")
            raise UserError(
                f"building the {what} failed: {' '.join(str(detail).split())[-400:]}",
                hint="the engine's output is in the log (rearbuild -v shows the steps)",
            )
        for line in str(chunk.get("stream", "")).splitlines():
            if line.strip():
                log.info("engine: %s", line)
                if line.startswith(("STEP ", "Step ")) and " ARG " not in line and " ENV " not in line:
                    notice("%s: %s", what, line[:160])


def build_image(conn: Connection, context: Path, tag: str, what: str, *, cache: bool) -> None:
    """Build the Containerfile in `context` as `tag`, removing intermediate containers even on failure."""
    if conn.engine is Engine.PODMAN:
        from docker.utils import build as dbuild

        params = {
            "dockerfile": "Containerfile",
            "t": tag,
            "isolation": "chroot",  # the only isolation whose RUN steps work on every host (module docstring)
            "rm": "true",
            "forcerm": "true",
            "pull": "false",  # FROM uses the local image when there is one
            "layers": "true" if cache else "false",
            "nocache": "false" if cache else "true",
        }
        data = dbuild.tar(str(context), gzip=False)
        api = conn.client.api
        response = api._post(
            api._url("/libpod/build"), params=params, data=data, headers={"Content-Type": "application/x-tar"},
            stream=True,
        )  # fmt: skip
        api._raise_for_status(response)
        _stream(api._stream_helper(response, decode=True), what)
    else:
        _stream(
            conn.client.api.build(
                path=str(context), dockerfile="Containerfile", tag=tag, rm=True, forcerm=True,
                nocache=not cache, decode=True,
            ),
            what,
        )  # fmt: skip


def _has_image(conn: Connection, tag: str) -> bool:
    import docker

    try:
        conn.client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def _place(source: Path, target: Path) -> None:
    """A hard link where possible (a bundle can be large), else a copy."""
    if source.is_dir():
        shutil.copytree(source, target, symlinks=True)
        return
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def ensure_builder(conn: Connection, containerfile: Path, wheelhouse: Path, workdir: Path) -> str:
    """The builder image's tag, built unless the engine already has it."""
    if not containerfile.is_file():
        raise UserError(f"no Containerfile at {containerfile}", hint="run from a rearbuild checkout or wheel")
    tag = builder_tag(containerfile, wheelhouse)
    if _has_image(conn, tag):
        notice("builder image %s: present", tag)
        return tag
    notice("builder image %s: building (once; the next build reuses it)", tag)
    context = workdir / "builder-context"
    shutil.rmtree(context, ignore_errors=True)
    (context / "wheelhouse").mkdir(parents=True)
    shutil.copyfile(containerfile, context / "Containerfile")
    for wheel in wheelhouse.glob("*.whl"):
        _place(wheel, context / "wheelhouse" / wheel.name)
    try:
        build_image(conn, context, tag, "builder image", cache=True)
    finally:
        shutil.rmtree(context, ignore_errors=True)
    return tag


def _job_containerfile(builder: str, bundle_name: str, verbose: bool) -> str:
    """The job: build the bundle, keep only the results in the layer (the engine commits every byte the RUN step
    leaves: build area, cache and a second copy of the ISO would double the commit's time)."""
    flag = " -v" if verbose else ""
    work = " ".join(f"{_JOB_ROOT}/{d}" for d in ("var", "log", "tmp", "cache"))
    return (
        f"FROM {builder}\n"
        f"COPY local.conf {_JOB_ROOT}/etc/local.conf\n"
        f"COPY {bundle_name} {_JOB_ROOT}/in/{bundle_name}\n"
        f"RUN REARBUILD_CACHE_DIR={_JOB_ROOT}/cache rearbuild{flag} -c {_JOB_ROOT}/etc --var-dir {_JOB_ROOT}/var"
        f" --log-dir {_JOB_ROOT}/log --tmpdir {_JOB_ROOT}/tmp build {_JOB_ROOT}/in/{bundle_name};"
        f" rc=$?; rm -rf {work}; exit $rc\n"
    )


def _extract(stream: Iterable[bytes], spool: Path, dest: Path) -> None:
    """Unpack get_archive's tar stream (spooled to a file: tarfile reads members by offset) into dest: regular
    files and directories only, none outside dest (Python 3.11.2 has no extraction filters)."""
    with spool.open("wb") as f:
        for chunk in stream:
            f.write(chunk)
    with tarfile.open(spool) as tar:
        for member in tar:
            parts = PurePosixPath(member.name).parts
            if member.name.startswith("/") or ".." in parts:
                raise UserError(f"the container's results hold {member.name!r}, outside their directory")
            target = dest.joinpath(*parts)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                if source is None:
                    raise UserError(f"the container's result {member.name} cannot be read from its archive")
                # private until written, then the container's permission bits: an ISO holding a backup stays 0600
                with source, os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)
                target.chmod(member.mode & 0o777)
    spool.unlink()


def _results(out: Path) -> dict[Path, str]:
    """The results the build published (with their sha256 files), each checked against its sha256."""
    results: dict[Path, str] = {}
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        if path.suffix in (".sha256", ".log"):
            continue
        side = path.with_name(path.name + ".sha256")
        digest = sha256_file(path)
        if not side.is_file() or side.read_text().split()[:1] != [digest]:
            raise UserError(f"the container's result {path.name} does not match its sha256: damaged in transfer")
        results[path] = digest
    if not results:
        raise UserError("the container build published no result files", hint="see the engine's output in the log")
    return results


def build_bundle(
    conn: Connection, builder: str, bundle: Path, workdir: Path, *, verbose: bool = False
) -> dict[Path, str]:
    """Build `bundle` in the builder image; its results (in workdir/out) and their sha256."""
    import docker

    context = workdir / "job-context"
    shutil.rmtree(context, ignore_errors=True)
    context.mkdir(parents=True)
    name = bundle.name
    _place(bundle, context / name)
    (context / "local.conf").write_text(f"OUTPUT_URL=file://{_OUT}\n")
    (context / "Containerfile").write_text(_job_containerfile(builder, name, verbose))
    job = f"{BUILDER_REPOSITORY}-job:{hashlib.sha256(os.urandom(16)).hexdigest()[:12]}"
    out = workdir / "out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    container = None
    try:
        # No layer cache: two builds of one bundle (two "runners") must each really build.
        build_image(conn, context, job, "build", cache=False)
        container = conn.client.containers.create(job, ["true"])  # never started: only a file system to copy
        stream, _stat = container.get_archive(_OUT)
        _extract(stream, workdir / "out.tar", out)
    finally:
        shutil.rmtree(context, ignore_errors=True)
        if container is not None:
            container.remove(force=True)
        with contextlib.suppress(docker.errors.ImageNotFound):
            conn.client.images.remove(job, force=True)
    return _results(out)


def make_wheelhouse(source: Path, dest: Path) -> Path:
    """rearbuild's wheel, built from its checkout `source`, and its dependencies' wheels (pip's index) in dest."""
    if not (source / "pyproject.toml").is_file():
        raise UserError(
            f"rearbuild does not run from a checkout ({source}): there are no sources to make its wheel from",
            hint="pass --wheelhouse DIR holding rearbuild's wheel and its dependencies' "
            "(python3 -m pip wheel --wheel-dir DIR <checkout>, or pip download rearbuild -d DIR)",
        )
    fresh = dest.with_name(dest.name + ".new")
    shutil.rmtree(fresh, ignore_errors=True)
    notice("wheelhouse: building rearbuild's wheel from %s", source)
    run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "--wheel-dir", fresh, source],
        hint="pip needs its index (PyPI) for the dependencies, or pass --wheelhouse DIR",
    )
    shutil.rmtree(dest, ignore_errors=True)
    fresh.replace(dest)
    return dest
