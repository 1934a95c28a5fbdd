"""The registry edge against hostile servers and hostile settings files.

Small misbehaving HTTP(S) servers on loopback (redirecting, endless, trickling,
lying about digests, naming foreign token realms), the real docker-registry
behind a fault proxy, and lock files, caches and CA bundles that are not what
they claim. Deadlines are made small through the client's parameters; tests
check how a resolution ends, never how long it took.
"""

import base64
import hashlib
import http.server
import json
import os
import socket
import socketserver
import ssl
import threading
import time

import pytest

from hardener.config import Config
from hardener.model import InputError
from hardener.pinning import reference_key
from hardener.registry.cache import DigestCache, read_lock_file
from hardener.registry.checks import is_digest
from hardener.registry.client import RegistryClient
from hardener.registry.credentials import DockerCredentials
from hardener.registry.resolve import resolve_references

from .registry_server import REGISTRY_BINARY, FaultProxy, make_local_ca, start_registry

USER, PASSWORD = "carol", "hunter2-registry-password"
BASIC = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2, "digest": "sha256:" + "4" * 64},
        "layers": [],
    }
).encode()
MANIFEST_DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()


# -- hostile servers -----------------------------------------------------------------
class Hostile:
    """A loopback HTTP server whose `respond(handler)` writes whatever answer a test wants.

    With `tls`, the same port speaks HTTPS and plain HTTP (told apart by the first byte), so a
    redirect can go from https://HOST:PORT to http://HOST:PORT: the same host, a weaker scheme.
    Every request is recorded as (scheme, method, path, headers).
    """

    def __init__(self, respond, host="127.0.0.1", tls: ssl.SSLContext | None = None):
        self.respond = respond
        self.requests: list[tuple[str, str, str, dict]] = []
        hostile = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                scheme = "https" if isinstance(self.connection, ssl.SSLSocket) else "http"
                hostile.requests.append((scheme, self.command, self.path, dict(self.headers.items())))
                try:
                    hostile.respond(self)
                except OSError:
                    pass  # the client hung up, as it should on an endless answer

            do_GET = do_HEAD = _handle

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

            def get_request(self):
                sock, address = self.socket.accept()
                if tls is not None:
                    sock.settimeout(5)
                    if sock.recv(1, socket.MSG_PEEK) == b"\x16":  # a TLS handshake starts with 0x16
                        sock = tls.wrap_socket(sock, server_side=True)
                    sock.settimeout(None)
                return sock, address

            def handle_error(self, request, client_address):
                pass

        self.httpd = Server((host, 0), Handler)
        self.port = self.httpd.server_address[1]
        self.host = f"{host}:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def shutdown(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def hostile():
    started = []

    def start(respond, **kw):
        server = Hostile(respond, **kw)
        started.append(server)
        return server

    yield start
    for server in started:
        server.shutdown()


def answer(handler, status, headers=(), body=b""):
    handler.send_response(status)
    for name, value in dict(headers).items():
        handler.send_header(name, value)
    if "Content-Length" not in dict(headers):
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


def credentials_for(tmp_path, *hosts) -> DockerCredentials:
    path = tmp_path / "docker-config.json"
    path.write_text(json.dumps({"auths": {host: {"auth": BASIC} for host in hosts}}))
    return DockerCredentials(path)


def client(**kw) -> RegistryClient:
    settings = {"backoff": 0.01, "max_wait": 0.1, "timeout": 5, "attempts": 2}
    return RegistryClient(**{**settings, **kw})


def ends(call):
    """call(), which must return: a guard so a missing deadline fails the test instead of hanging it."""
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(call()), daemon=True)
    worker.start()
    worker.join(60)  # far beyond any deadline the tests set; not a measurement
    assert outcome, "no deadline ended the resolution"
    return outcome[0]


def assert_no_secret(text: str):
    assert PASSWORD not in text and BASIC not in text and "\n" not in text


# -- credentials -----------------------------------------------------------------------
def test_a_token_realm_named_by_a_redirect_target_gets_no_credentials(hostile, tmp_path):
    realm = hostile(lambda h: answer(h, 200, {"Content-Type": "application/json"}, b'{"token": "t"}'))
    elsewhere = hostile(
        lambda h: answer(h, 401, {"WWW-Authenticate": f'Bearer realm="http://{realm.host}/token",service="x"'}),
        host="127.0.0.2",  # another host on the loopback network
    )
    front = hostile(lambda h: answer(h, 307, {"Location": f"http://{elsewhere.host}{h.path}"}))
    with client(credentials=credentials_for(tmp_path, front.host)) as registry:
        resolution = registry.resolve(f"{front.host}/team/app:1.0")
    assert resolution.digest is None and "another host that asks for credentials" in resolution.error
    assert realm.requests == []  # the realm a foreign host named was never contacted
    assert all("Authorization" not in headers for *_, headers in elsewhere.requests)
    assert_no_secret(resolution.error)


def test_a_redirect_from_https_to_http_on_the_same_host_is_not_followed(hostile, tmp_path):
    ca = make_local_ca(tmp_path / "ca")

    def respond(handler):
        if handler.headers.get("Authorization") is None:
            answer(handler, 401, {"WWW-Authenticate": 'Basic realm="test"'})
        else:  # same host and port, plain HTTP: the credentials would travel in clear text
            answer(handler, 307, {"Location": f"http://{server.host}{handler.path}"})

    server = hostile(respond, tls=ca.server_context())
    with client(
        credentials=credentials_for(tmp_path, server.host),
        ca_bundle=str(ca.ca_certificate),
        plain_http_loopback=False,
    ) as registry:
        resolution = registry.resolve(f"{server.host}/team/app:1.0")
    assert resolution.digest is None and "HTTPS to plain HTTP" in resolution.error
    assert [scheme for scheme, *_ in server.requests] == ["https", "https"]  # nothing was sent over plain HTTP
    assert server.requests[1][3].get("Authorization") == f"Basic {BASIC}"  # over TLS, to the host it belongs to
    assert_no_secret(resolution.error)


def test_the_local_ca_bundle_is_what_makes_tls_verify(hostile, tmp_path):
    ca = make_local_ca(tmp_path / "ca")
    server = hostile(
        lambda h: answer(h, 200, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}, MANIFEST),
        tls=ca.server_context(),
    )
    with client(plain_http_loopback=False) as untrusting:
        refused = untrusting.resolve(f"{server.host}/team/app:1.0")
    assert refused.digest is None and "TLS certificate verification" in refused.error
    with client(plain_http_loopback=False, ca_bundle=str(ca.ca_certificate)) as trusting:
        assert trusting.resolve(f"{server.host}/team/app:1.0").digest == MANIFEST_DIGEST


def test_a_token_service_named_by_the_registry_itself_gets_the_credentials(hostile, tmp_path):
    realm = hostile(lambda h: answer(h, 200, {"Content-Type": "application/json"}, b'{"token": "abc.def"}'))

    def registry_side(handler):
        if handler.headers.get("Authorization") == "Bearer abc.def":
            answer(handler, 200, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}, MANIFEST)
        else:
            answer(handler, 401, {"WWW-Authenticate": f'Bearer realm="http://{realm.host}/token",service="s"'})

    front = hostile(registry_side)
    with client(credentials=credentials_for(tmp_path, front.host)) as registry:
        assert registry.resolve(f"{front.host}/team/app:1.0").digest == MANIFEST_DIGEST
    assert realm.requests[0][3].get("Authorization") == f"Basic {BASIC}"


# -- sizes and deadlines -------------------------------------------------------------------
def endless(handler):
    handler.send_response(200)
    handler.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
    handler.send_header("Connection", "close")  # no length: the body ends when the connection does
    handler.end_headers()
    chunk = b" " * 65536
    while True:
        handler.wfile.write(chunk)


def test_an_endless_manifest_is_cut_at_the_size_limit(hostile):
    server = hostile(endless)
    with client(max_manifest_bytes=256 * 1024) as registry:
        resolution = registry.resolve(f"{server.host}/team/app:1.0")
    assert resolution.digest is None and "larger than 262144 bytes" in resolution.error


def test_an_announced_huge_manifest_is_not_read(hostile):
    def huge(handler):
        answer(handler, 200, {"Content-Length": str(10**12), "Connection": "close"})

    server = hostile(huge)
    with client() as registry:
        resolution = registry.resolve(f"{server.host}/team/app:1.0")
    assert resolution.digest is None and "announced a body larger than" in resolution.error


def test_an_endless_token_answer_is_cut_at_the_size_limit(hostile, tmp_path):
    realm = hostile(endless)
    front = hostile(lambda h: answer(h, 401, {"WWW-Authenticate": f'Bearer realm="http://{realm.host}/t"'}))
    with client(credentials=credentials_for(tmp_path, front.host), max_token_bytes=100_000) as registry:
        resolution = registry.resolve(f"{front.host}/team/app:1.0")
    assert resolution.digest is None and "larger than 100000 bytes" in resolution.error


def trickle(stop: threading.Event, in_headers: bool):
    """A slow-loris answer: one byte at a time, each well within the read timeout, never ending."""

    def respond(handler):
        if in_headers:
            handler.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        else:
            handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n")
        while not stop.is_set():
            handler.wfile.write(b"x")
            handler.wfile.flush()
            time.sleep(0.02)

    return respond


@pytest.mark.parametrize("in_headers", [True, False], ids=["headers", "body"])
def test_a_slow_loris_registry_meets_the_per_reference_deadline(hostile, in_headers):
    stop = threading.Event()
    server = hostile(trickle(stop, in_headers))
    try:
        with client(timeout=5, reference_deadline=0.5) as registry:
            resolution = ends(lambda: registry.resolve(f"{server.host}/team/app:1.0"))
    finally:
        stop.set()
    assert resolution.digest is None
    assert resolution.error == f"{reference_key(f'{server.host}/team/app:1.0')} was not resolved within 0.5 s"


def test_the_run_deadline_bounds_all_references_together(hostile):
    stop = threading.Event()
    server = hostile(trickle(stop, in_headers=False))
    references = [f"{server.host}/team/app:{n}" for n in range(6)]
    try:
        with client(timeout=5, reference_deadline=60, run_deadline=0.5, concurrency=2) as registry:
            results = ends(lambda: registry.resolve_many(references))
    finally:
        stop.set()
    assert len(results) == 6
    for resolution in results.values():
        assert resolution.digest is None and "time limit for the run (0.5 s) ran out" in resolution.error


def test_retry_waits_stop_at_the_deadline(hostile):
    server = hostile(lambda h: answer(h, 503, {"Retry-After": "3600"}))
    with client(attempts=5, max_wait=3600, reference_deadline=0.5) as registry:
        resolution = ends(lambda: registry.resolve(f"{server.host}/team/app:1.0"))
    assert resolution.digest is None and "was not resolved within 0.5 s" in resolution.error
    assert len(server.requests) == 1  # waiting an hour would pass the deadline: no second attempt


# -- digests ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    if REGISTRY_BINARY is None:
        if os.environ.get("HARDENER_REQUIRE_REGISTRY") == "1":
            pytest.fail("docker-registry is required (HARDENER_REQUIRE_REGISTRY=1) but not installed", pytrace=False)
        pytest.skip("docker-registry is not installed (apt-get install docker-registry)")
    server = start_registry(tmp_path_factory.mktemp("registry"))
    server.images = {"app": server.push_image("team/app", "1.0")}
    yield server
    server.stop()


def rewrite_digest_header(registry, value):
    """A proxy in front of the real registry that replaces the manifest's Docker-Content-Digest."""

    def plan(method, path, headers):
        import httpx

        if "/manifests/" not in path:
            return None
        upstream = httpx.request(method, registry.url + path, headers={"Accept": headers.get("Accept", "")})
        kept = {k: v for k, v in upstream.headers.items() if k.lower() != "docker-content-digest"}
        return upstream.status_code, {**kept, "Docker-Content-Digest": value}, upstream.content

    return FaultProxy(registry.url, plan)


@pytest.mark.parametrize(
    "header, reason",
    [
        ("sha256:" + "0" * 64, "differs from its Docker-Content-Digest"),
        ("sha256:" + "A" * 64, "not sha256:<64 hex digits>"),
        ("sha512:" + "0" * 128, "not sha256:<64 hex digits>"),
        ("sha256:" + "0" * 64 + ", sha256:" + "1" * 64, "not sha256:<64 hex digits>"),
    ],
    ids=["wrong", "upper-case", "other-algorithm", "two-values"],
)
def test_a_digest_header_that_does_not_match_the_body_is_refused(registry, header, reason):
    proxy = rewrite_digest_header(registry, header)
    try:
        with client() as registry_client:
            resolution = registry_client.resolve(f"{proxy.host}/team/app:1.0")
    finally:
        proxy.shutdown()
    assert resolution.digest is None and reason in resolution.error


def test_a_correct_digest_header_through_the_proxy_is_accepted(registry):
    digest = registry.images["app"]["manifests"]["linux/amd64"]
    proxy = rewrite_digest_header(registry, digest)
    try:
        with client() as registry_client:
            assert registry_client.resolve(f"{proxy.host}/team/app:1.0").digest == digest
    finally:
        proxy.shutdown()


def test_a_body_that_is_not_a_manifest_is_not_pinned(hostile):
    server = hostile(lambda h: answer(h, 200, {"Content-Type": "text/html"}, b"<html>captive portal</html>"))
    with client() as registry:
        resolution = registry.resolve(f"{server.host}/team/app:1.0")
    assert resolution.digest is None and "not an image manifest" in resolution.error


def test_digest_format_is_exact():
    good = "sha256:" + "0123456789abcdef" * 4
    assert is_digest(good)
    for bad in (good + "\n", " " + good, good.upper(), good[:-1], good + "0", "sha512:" + "0" * 128, None, 7):
        assert not is_digest(bad), repr(bad)


# -- what the registry says is not echoed ----------------------------------------------------
def test_registry_error_bodies_and_protocol_garbage_are_not_echoed(hostile, tmp_path):
    secret_text = "::error::PLANTED-BODY-TEXT"

    def broken(handler):
        # A header line h11 rejects; its parser error would quote these bytes.
        handler.wfile.write(f"HTTP/1.1 200 OK\r\n{secret_text} {PASSWORD}\r\n\r\n".encode())

    def failing(handler):
        answer(handler, 500, {"Content-Type": "text/plain"}, f"{secret_text} {PASSWORD}".encode())

    for respond in (broken, failing):
        server = hostile(respond)
        with client(credentials=credentials_for(tmp_path, server.host)) as registry:
            resolution = registry.resolve(f"{server.host}/team/app:1.0")
        assert resolution.digest is None
        assert "PLANTED" not in resolution.error
        assert_no_secret(resolution.error)


def test_references_outside_the_distribution_grammar_never_reach_the_network(hostile):
    server = hostile(lambda h: answer(h, 404))
    with client() as registry:
        for reference in (f"{server.host}/../../admin:1", f"{server.host}/app:1?x=1", f"{server.host}/app:a%2fb"):
            resolution = registry.resolve(reference)
            assert resolution.digest is None and "not a valid image reference" in resolution.error
    assert server.requests == []


# -- lock files, the cache and CA bundles ----------------------------------------------------
def lock_config(tmp_path, name="digests.json", **settings) -> Config:
    return Config(source=str(tmp_path / ".hardener.toml"), digest_lock_file=name, **settings)


KEY = reference_key("127.0.0.1:5000/team/app:1.0")


def test_a_lock_file_digest_with_a_trailing_newline_is_refused(tmp_path):
    digest = "sha256:" + "f" * 64
    (tmp_path / "digests.json").write_text(json.dumps({"127.0.0.1:5000/team/app:1.0": digest + "\n"}, indent=1))
    with pytest.raises(InputError) as caught:
        resolve_references({KEY}, lock_config(tmp_path), offline=True)
    assert str(caught.value).startswith(f"{tmp_path / 'digests.json'}:2: digest-lock-file:")
    assert "\n" not in str(caught.value)


def test_a_valid_lock_file_still_pins(tmp_path):
    digest = "sha256:" + "f" * 64
    (tmp_path / "digests.json").write_text(json.dumps({"127.0.0.1:5000/team/app:1.0": digest}))
    results, stats = resolve_references({KEY}, lock_config(tmp_path), offline=True)
    assert results[KEY].digest == digest and stats.from_lock == 1


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda folder: "/dev/zero", "not a regular file"),
        (lambda folder: (os.mkfifo(folder / "fifo"), str(folder / "fifo"))[1], "not a regular file"),
        (lambda folder: str(folder), "is a folder"),
        (lambda folder: str(folder / "missing.json"), "does not exist"),
        (
            lambda folder: ((folder / "big.json").write_text(" " * (1024 * 1024 + 1)), str(folder / "big.json"))[1],
            "larger than 1048576 bytes",
        ),
        (lambda folder: ((folder / "bad.json").write_text('{\n "a": \n'), str(folder / "bad.json"))[1], "invalid JSON"),
        (lambda folder: ((folder / "list.json").write_text("[]"), str(folder / "list.json"))[1], "JSON object"),
    ],
    ids=["dev-zero", "fifo", "folder", "missing", "too-large", "not-json", "not-an-object"],
)
def test_an_unusable_lock_file_is_one_error_line_naming_it(tmp_path, make, reason):
    path = make(tmp_path)
    with pytest.raises(InputError) as caught:
        resolve_references({KEY}, lock_config(tmp_path, path), offline=True)
    message = str(caught.value)
    assert message.startswith(f"{path}:") and reason in message and "\n" not in message


def test_lock_file_reading_is_bounded_even_when_called_directly():
    with pytest.raises(InputError, match="not a regular file"):
        read_lock_file("/dev/zero")


def test_cache_entries_of_the_wrong_shape_are_ignored(tmp_path):
    good = "sha256:" + "a" * 64
    entries = {
        "ok": {"digest": good, "media_type": None, "at": time.time()},
        "newline": {"digest": good + "\n", "at": time.time()},
        "upper": {"digest": good.upper(), "at": time.time()},
        "not-a-dict": good,
        "bad-time": {"digest": good, "at": "yesterday"},
        "bad-media-type": {"digest": good, "media_type": 3, "at": time.time()},
    }
    path = tmp_path / "digests.json"
    path.write_text(json.dumps(entries))
    cache = DigestCache(path)
    assert cache.get("ok", 60).digest == good
    for key in entries.keys() - {"ok"}:
        assert cache.get(key, None) is None, key


def test_an_unreadable_cache_costs_only_time(tmp_path):
    assert DigestCache(tmp_path / "missing.json").entries == {}
    (tmp_path / "fifo").mkdir()
    assert DigestCache(tmp_path / "fifo").entries == {}


def pem_private_key(folder):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    path = folder / "key.pem"
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(path)


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda folder: ((folder / "garbage.pem").write_bytes(os.urandom(300)), str(folder / "garbage.pem"))[1], "PEM"),
        (lambda folder: ((folder / "text.pem").write_text("not a certificate\n"), str(folder / "text.pem"))[1], "PEM"),
        (pem_private_key, "PEM"),
        (lambda folder: str(make_local_ca(folder / "ca").server_certificate), "no CA certificate"),
        (lambda folder: str(folder / "missing.pem"), "does not exist"),
        (lambda folder: "/dev/zero", "not a regular file"),
    ],
    ids=["random-bytes", "text", "private-key", "server-certificate", "missing", "dev-zero"],
)
def test_an_unusable_ca_bundle_is_one_error_line_naming_it(tmp_path, monkeypatch, make, reason):
    monkeypatch.setenv("HARDENER_CACHE_DIR", str(tmp_path / "cache"))
    path = make(tmp_path)
    with pytest.raises(InputError) as caught:
        RegistryClient(ca_bundle=path)
    message = str(caught.value)
    assert message.startswith(f"{path}: registry-ca-bundle:") and reason in message and "\n" not in message
    # The same through a run's settings: the bundle is named relative to the settings file.
    config = Config(source=str(tmp_path / ".hardener.toml"), registry_ca_bundle=os.path.relpath(path, tmp_path))
    with pytest.raises(InputError, match="registry-ca-bundle"):
        resolve_references({KEY}, config, offline=False)


def test_a_good_ca_bundle_is_accepted(tmp_path):
    RegistryClient(ca_bundle=str(make_local_ca(tmp_path).ca_certificate)).close()


def test_a_ca_bundle_with_text_around_its_certificates_is_accepted(tmp_path):
    # Bundles often carry comments, in any encoding, and the subject lines some tools print.
    pem = make_local_ca(tmp_path).ca_certificate.read_bytes()
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes("# Café team's registry CA\nsubject=CN=café\n".encode() + pem + b"\n# end\n")
    RegistryClient(ca_bundle=str(bundle)).close()


# -- through the command line ------------------------------------------------------------------
def run_cli(folder, *args):
    import subprocess
    import sys

    env = {**os.environ, "NO_COLOR": "1", "HARDENER_CACHE_DIR": str(folder / "cache")}
    env.pop("HARDENER_OFFLINE", None)
    return subprocess.run(
        [sys.executable, "-m", "hardener", *args], cwd=folder, capture_output=True, text=True, env=env, timeout=120
    )




def test_a_lock_file_digest_with_a_newline_never_splits_a_compose_line(tmp_path):
    compose = "services:\n  web:\n    image: 127.0.0.1:5000/team/app:1.0\n"
    (tmp_path / "compose.yaml").write_text(compose)
    (tmp_path / "digests.json").write_text(
        json.dumps({"127.0.0.1:5000/team/app:1.0": "sha256:" + "f" * 64 + "\n"}, indent=1)
    )
    (tmp_path / ".hardener.toml").write_text('digest-lock-file = "digests.json"\nselect = ["HD207"]\n')
    result = run_cli(tmp_path, "fix", "--offline", ".")
    assert (tmp_path / "compose.yaml").read_text() == compose
    assert "Traceback" not in result.stderr
    assert result.returncode == 2 and f"{tmp_path / 'digests.json'}:2: digest-lock-file:" in result.stdout


def test_a_ca_bundle_without_a_ca_is_one_error_line(tmp_path):
    ca = make_local_ca(tmp_path / "certs")
    (tmp_path / "Dockerfile").write_text("FROM registry.invalid/team/app:1.0\n")
    (tmp_path / ".hardener.toml").write_text('registry-ca-bundle = "certs/server.pem"\nselect = ["HD112"]\n')
    result = run_cli(tmp_path, "check", ".")
    assert "Traceback" not in result.stderr
    assert result.returncode == 2
    assert f"{ca.server_certificate}: registry-ca-bundle: holds no CA certificate" in result.stdout
    assert len([line for line in result.stdout.splitlines() if line.startswith("error: ")]) == 1
