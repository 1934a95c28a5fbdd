"""A real OCI registry (Debian's docker-registry, the CNCF distribution server) for tests.

Started on a free loopback port with its own storage, optionally behind
htpasswd Basic auth or a bearer-token server, and filled through the
registry's own HTTP API. Nothing here is mocked: the client under test talks
to the real server.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REGISTRY_BINARY = shutil.which("docker-registry") or shutil.which("registry")
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Registry:
    """A running registry; `url` is http://127.0.0.1:PORT."""

    process: subprocess.Popen
    port: int
    root: Path
    username: str | None = None
    password: str | None = None
    extra: list = field(default_factory=list)  # helper servers to stop with it

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def stop(self) -> None:
        for server in self.extra:
            server.shutdown()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()

    # -- filling it --------------------------------------------------------
    def _client(self) -> httpx.Client:
        if self.extra and isinstance(self.extra[0], TokenServer):
            token = self.extra[0].issue(self.username or "", ["*"])
            return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        auth = (self.username, self.password) if self.username else None
        return httpx.Client(base_url=self.url, auth=auth, timeout=30)

    def push_blob(self, client: httpx.Client, repository: str, data: bytes) -> str:
        digest = digest_of(data)
        start = client.post(f"/v2/{repository}/blobs/uploads/")
        start.raise_for_status()
        location = start.headers["Location"]
        separator = "&" if "?" in location else "?"
        done = client.put(
            f"{location}{separator}digest={digest}", content=data, headers={"Content-Type": "application/octet-stream"}
        )
        done.raise_for_status()
        return digest

    def push_manifest(self, client, repository: str, reference: str, body: dict, media_type: str) -> str:
        data = json.dumps(body, separators=(",", ":")).encode()
        response = client.put(
            f"/v2/{repository}/manifests/{reference}", content=data, headers={"Content-Type": media_type}
        )
        response.raise_for_status()
        return digest_of(data)

    def push_image(self, repository: str, tag: str, platforms=("linux/amd64",), docker_media_types=False) -> dict:
        """Push a small image; with several platforms, an OCI index over one manifest each.

        Returns {"index": digest or None, "manifests": {platform: digest}}.
        """
        with self._client() as client:
            manifests = {}
            for platform in platforms:
                os_name, arch = platform.split("/")[:2]
                config = json.dumps(
                    {"architecture": arch, "os": os_name, "rootfs": {"type": "layers", "diff_ids": []}}
                ).encode()
                layer = f"layer for {repository}:{tag} on {platform}".encode()
                config_digest = self.push_blob(client, repository, config)
                layer_digest = self.push_blob(client, repository, layer)
                media = DOCKER_MANIFEST if docker_media_types else OCI_MANIFEST
                body = {
                    "schemaVersion": 2,
                    "mediaType": media,
                    "config": {
                        "mediaType": DOCKER_CONFIG if docker_media_types else OCI_CONFIG,
                        "size": len(config),
                        "digest": config_digest,
                    },
                    "layers": [{"mediaType": OCI_LAYER, "size": len(layer), "digest": layer_digest}],
                }
                data = json.dumps(body, separators=(",", ":")).encode()
                reference = tag if len(platforms) == 1 else digest_of(data)
                manifests[platform] = self.push_manifest(client, repository, reference, body, media)
            index = None
            if len(platforms) > 1:
                entries = []
                for platform, digest in manifests.items():
                    os_name, arch = platform.split("/")[:2]
                    size = len(
                        client.get(f"/v2/{repository}/manifests/{digest}", headers={"Accept": OCI_MANIFEST}).content
                    )
                    entries.append(
                        {
                            "mediaType": OCI_MANIFEST,
                            "size": size,
                            "digest": digest,
                            "platform": {"architecture": arch, "os": os_name},
                        }
                    )
                index = self.push_manifest(
                    client,
                    repository,
                    tag,
                    {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries},
                    OCI_INDEX,
                )
            return {"index": index, "manifests": manifests}


def start_registry(tmp: Path, auth: str | None = None) -> Registry:
    """auth: None, "basic" (htpasswd) or "token" (bearer tokens from a local token server)."""
    if REGISTRY_BINARY is None:
        raise RuntimeError("docker-registry is not installed (Debian package docker-registry)")
    port = free_port()
    storage = tmp / "storage"
    storage.mkdir(parents=True, exist_ok=True)
    config = {
        "version": 0.1,
        "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(storage)}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}"},
    }
    username = password = None
    extra = []
    if auth == "basic":
        import bcrypt

        username, password = "alice", "s3cret-registry-password"
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
        (tmp / "htpasswd").write_text(f"{username}:{hashed}\n")
        config["auth"] = {"htpasswd": {"realm": "test-realm", "path": str(tmp / "htpasswd")}}
    elif auth == "token":
        username, password = "bob", "t0ken-user-password"
        tokens = TokenServer(tmp, username, password)
        extra.append(tokens)
        config["auth"] = {
            "token": {
                "realm": tokens.url,
                "service": "test-registry",
                "issuer": "hardener-tests",
                "rootcertbundle": str(tokens.certificate),
            }
        }
    config_path = tmp / "config.yml"
    config_path.write_text(json.dumps(config))  # JSON is YAML
    process = subprocess.Popen(
        [REGISTRY_BINARY, "serve", str(config_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "OTEL_TRACES_EXPORTER": "none"},
    )
    registry = Registry(process, port, tmp, username, password, extra)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            httpx.get(f"{registry.url}/v2/", timeout=1)
            return registry
        except httpx.HTTPError:
            if process.poll() is not None:
                raise RuntimeError("docker-registry exited at start") from None
            time.sleep(0.05)
    registry.stop()
    raise RuntimeError("docker-registry did not start")


class TokenServer:
    """A minimal bearer-token service (the registry's `auth.token` protocol), signing RS256 JWTs."""

    def __init__(self, tmp: Path, username: str, password: str):
        import datetime

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self.username, self.password = username, password
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hardener-tests")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(self.key, hashes.SHA256())
        )
        self.certificate = tmp / "token.pem"
        self.certificate.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.cert_der = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        self.requests: list[dict] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                auth = self.headers.get("Authorization", "")
                server.requests.append({"query": query, "authorization": auth})
                user = ""
                if auth.startswith("Basic "):
                    user, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
                    if (user, secret) != (server.username, server.password):
                        self.send_response(401)
                        self.end_headers()
                        return
                actions = ["pull"] if user else []  # anonymous users get no access
                scope = query.get("scope", "")
                repository = scope.split(":")[1] if scope.count(":") >= 2 else ""
                token = server.issue(user, actions, repository)
                body = json.dumps({"token": token}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.port = free_port()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.port}/token"

    def issue(self, user: str, actions, repository: str = "") -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        now = int(time.time())
        if actions == ["*"]:
            # The registry checks names exactly: grant push and pull on the repositories the tests fill.
            access = [{"type": "repository", "name": n, "actions": ["pull", "push", "*"]} for n in _TEST_REPOSITORIES]
        else:
            access = [{"type": "repository", "name": repository, "actions": actions}] if actions else []
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.cert_der]}
        claims = {
            "iss": "hardener-tests",
            "sub": user,
            "aud": "test-registry",
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": f"{now}-{user}-{repository}",
            "access": access,
        }
        encode = lambda obj: base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()  # noqa: E731
        signing_input = f"{encode(header)}.{encode(claims)}".encode()
        signature = self.key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return signing_input.decode() + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()

    def shutdown(self) -> None:
        self.httpd.shutdown()


# Repositories the token server grants pushes to while the tests fill the registry.
_TEST_REPOSITORIES = ["library/python", "library/redis", "team/app", "private/app"]


class FaultProxy:
    """A loopback HTTP proxy in front of a real server that can misbehave on purpose.

    `plan(method, path, headers)` returns None to forward the request, or a
    (status, headers, body) answer to send instead. Every request is recorded.
    """

    def __init__(self, upstream: str, plan=None, host: str = "127.0.0.1"):
        self.upstream = upstream
        self.client = httpx.Client(timeout=30, limits=httpx.Limits(max_keepalive_connections=32))
        self.plan = plan or (lambda method, path, headers: None)
        self.requests: list[tuple[str, str, dict]] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                headers = {k: v for k, v in self.headers.items()}
                proxy.requests.append((self.command, self.path, headers))
                length = int(headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                answer = proxy.plan(self.command, self.path, headers)
                if answer is None:
                    forwarded = {k: v for k, v in headers.items() if k.lower() not in ("host", "content-length")}
                    r = proxy.client.request(self.command, proxy.upstream + self.path, headers=forwarded, content=body)
                    status, out_headers, out_body = r.status_code, dict(r.headers), r.content
                else:
                    status, out_headers, out_body = answer
                self.send_response(status)
                for k, v in out_headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(0 if self.command == "HEAD" else len(out_body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(out_body)

            do_GET = do_HEAD = do_POST = do_PUT = _handle

        self.port = free_port(host)
        self.httpd = http.server.ThreadingHTTPServer((host, self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.host = f"{host}:{self.port}"
        self.url = f"http://{self.host}"

    def shutdown(self) -> None:
        self.httpd.shutdown()
        self.client.close()


@dataclass
class LocalCA:
    """A throwaway certificate authority and a server certificate for 127.0.0.1, as PEM files."""

    ca_certificate: Path  # what a client trusts (registry-ca-bundle)
    server_certificate: Path  # signed by the CA; not itself a CA
    server_key: Path

    def server_context(self):
        import ssl

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.server_certificate, self.server_key)
        return context


def make_local_ca(folder: Path) -> LocalCA:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    valid = (now - datetime.timedelta(days=1), now + datetime.timedelta(days=1))
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hardener test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    files = LocalCA(folder / "ca.pem", folder / "server.pem", folder / "server-key.pem")
    files.ca_certificate.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.server_certificate.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    files.server_key.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return files
