"""Digest pinning against a real registry server (Debian's docker-registry) on loopback."""

import json
import os
import subprocess
import sys

import dockerfile
import pytest

from hardener.pinning import reference_key
from hardener.registry.client import RegistryClient
from hardener.registry.credentials import DockerCredentials

from .registry_server import REGISTRY_BINARY, FaultProxy, start_registry

if REGISTRY_BINARY is None:
    if os.environ.get("HARDENER_REQUIRE_REGISTRY") == "1":
        pytest.fail("docker-registry is required (HARDENER_REQUIRE_REGISTRY=1) but not installed", pytrace=False)
    pytest.skip("docker-registry is not installed (apt-get install docker-registry)", allow_module_level=True)


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    server = start_registry(tmp_path_factory.mktemp("open"))
    server.images = {
        "multi": server.push_image("library/python", "3.12-slim", platforms=("linux/amd64", "linux/arm64")),
        "single": server.push_image("team/app", "1.0", docker_media_types=True),
    }
    yield server
    server.stop()


@pytest.fixture(scope="module")
def basic_registry(tmp_path_factory):
    server = start_registry(tmp_path_factory.mktemp("basic"), auth="basic")
    server.images = {"private": server.push_image("private/app", "2.0", platforms=("linux/amd64", "linux/arm64"))}
    yield server
    server.stop()


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory):
    server = start_registry(tmp_path_factory.mktemp("token"), auth="token")
    server.images = {"redis": server.push_image("library/redis", "7", platforms=("linux/amd64", "linux/arm64"))}
    yield server
    server.stop()


def docker_config(tmp_path, registry) -> DockerCredentials:
    import base64

    auth = base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {registry.host: {"auth": auth}}}))
    return DockerCredentials(path)


def fast_client(**kw) -> RegistryClient:
    return RegistryClient(backoff=0.01, max_wait=0.5, timeout=5, **kw)


def test_tag_resolves_to_the_multi_arch_index_digest(registry):
    with fast_client() as client:
        resolution = client.resolve(f"{registry.host}/library/python:3.12-slim")
    assert resolution.digest == registry.images["multi"]["index"]
    assert resolution.multi_arch
    assert resolution.digest not in registry.images["multi"]["manifests"].values()


def test_single_platform_image_resolves_to_its_manifest_digest(registry):
    with fast_client() as client:
        resolution = client.resolve(f"{registry.host}/team/app:1.0")
    assert resolution.digest == registry.images["single"]["manifests"]["linux/amd64"]
    assert not resolution.multi_arch


def test_unknown_tag_gives_a_clear_reason(registry):
    with fast_client() as client:
        resolution = client.resolve(f"{registry.host}/library/python:9.99")
    assert resolution.digest is None
    assert "does not exist" in resolution.error and "library/python:9.99" in resolution.error


def test_each_unique_reference_is_resolved_once(registry):
    with fast_client() as client:
        results = client.resolve_many(
            [f"{registry.host}/team/app:1.0"] * 5 + [f"{registry.host}/library/python:3.12-slim"]
        )
        assert len(results) == 2 and client.requests == 2


def test_basic_auth_with_docker_credentials(basic_registry, tmp_path):
    reference = f"{basic_registry.host}/private/app:2.0"
    with fast_client() as anonymous:
        refused = anonymous.resolve(reference)
    assert refused.digest is None and "needs credentials" in refused.error
    with fast_client(credentials=docker_config(tmp_path, basic_registry)) as client:
        assert client.resolve(reference).digest == basic_registry.images["private"]["index"]


def test_bearer_token_flow(token_registry, tmp_path):
    tokens = token_registry.extra[0]
    reference = f"{token_registry.host}/library/redis:7"
    with fast_client() as anonymous:
        refused = anonymous.resolve(reference)
    assert refused.digest is None and "refused access" in refused.error
    with fast_client(credentials=docker_config(tmp_path, token_registry)) as client:
        assert client.resolve(reference).digest == token_registry.images["redis"]["index"]
    last = tokens.requests[-1]
    assert last["query"] == {"service": "test-registry", "scope": "repository:library/redis:pull"}
    assert last["authorization"].startswith("Basic ")


def test_rate_limit_then_success(registry):
    answers = iter([(429, {"Retry-After": "0"}, b""), (503, {}, b"")])
    proxy = FaultProxy(registry.url, lambda method, path, headers: next(answers, None))
    try:
        with fast_client() as client:
            resolution = client.resolve(f"{proxy.host}/library/python:3.12-slim")
        assert resolution.digest == registry.images["multi"]["index"]
        assert len(proxy.requests) == 3
    finally:
        proxy.shutdown()


def test_rate_limit_that_never_ends_is_skipped_with_a_reason(registry):
    proxy = FaultProxy(registry.url, lambda method, path, headers: (429, {"Retry-After": "0"}, b""))
    try:
        with fast_client() as client:
            resolution = client.resolve(f"{proxy.host}/library/python:3.12-slim")
        assert resolution.digest is None and "HTTP 429 after 3 attempts" in resolution.error
    finally:
        proxy.shutdown()


def test_a_server_that_is_down_is_skipped_and_the_run_continues(registry):
    from .registry_server import free_port

    down = f"127.0.0.1:{free_port()}"
    with fast_client() as client:
        results = client.resolve_many([f"{down}/library/python:3.12", f"{registry.host}/team/app:1.0"])
    assert results[reference_key(f"{down}/library/python:3.12")].error.startswith(f"{down} could not be reached")
    assert results[reference_key(f"{registry.host}/team/app:1.0")].digest


def test_missing_digest_header_still_gives_the_digest_of_the_manifest_bytes(registry):
    def strip_digest(method, path, headers):
        import httpx

        if "/manifests/" not in path:
            return None
        upstream = httpx.request(method, registry.url + path, headers={"Accept": headers.get("Accept", "")})
        kept = {k: v for k, v in upstream.headers.items() if k.lower() != "docker-content-digest"}
        return upstream.status_code, kept, upstream.content

    proxy = FaultProxy(registry.url, strip_digest)
    try:
        with fast_client() as client:
            assert client.resolve(f"{proxy.host}/library/python:3.12-slim").digest == registry.images["multi"]["index"]
        assert [m for m, _, _ in proxy.requests] == ["GET"]  # one GET: the digest is hashed from its body
    finally:
        proxy.shutdown()


def test_redirect_to_another_host_does_not_leak_credentials(basic_registry, tmp_path):
    # 127.0.0.2 is another host on the loopback network.
    elsewhere = FaultProxy(basic_registry.url, host="127.0.0.2")
    front = FaultProxy(
        basic_registry.url,
        lambda method, path, headers: (
            (307, {"Location": elsewhere.url + path}, b"")
            if "/manifests/" in path and "Authorization" in headers
            else None
        ),
    )
    try:
        credentials = docker_config(tmp_path, basic_registry)
        credentials._found[front.host] = (basic_registry.username, basic_registry.password)
        with fast_client(credentials=credentials) as client:
            resolution = client.resolve(f"{front.host}/private/app:2.0")
        assert resolution.digest is None  # the other host does not get the login, so it refuses
        assert elsewhere.requests and all("Authorization" not in h for _, _, h in elsewhere.requests)
        assert any("Authorization" in h for _, _, h in front.requests)
    finally:
        front.shutdown()
        elsewhere.shutdown()


def test_plain_http_only_for_loopback():
    from hardener.registry.client import is_loopback

    assert RegistryClient()._base("127.0.0.1:5000").startswith("http://")
    assert RegistryClient()._base("ghcr.io").startswith("https://")
    assert RegistryClient()._base("docker.io") == "https://registry-1.docker.io"
    assert RegistryClient(insecure_registries=["registry.lan:5000"])._base("registry.lan:5000").startswith("http://")
    assert is_loopback("[::1]:5000") and is_loopback("localhost:80") and not is_loopback("10.0.0.1:5000")


def run(tmp_path, *args, offline=False):
    env = {**os.environ, "NO_COLOR": "1", "HARDENER_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("HARDENER_OFFLINE", None)
    if offline:
        env["HARDENER_OFFLINE"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "hardener", *args], cwd=tmp_path, capture_output=True, text=True, env=env
    )


def test_fix_pins_dockerfile_and_compose_end_to_end(registry, tmp_path, monkeypatch):
    host = registry.host
    index = registry.images["multi"]["index"]
    (tmp_path / "Dockerfile").write_text(
        f"ARG BASE={host}/library/python:3.12-slim\r\nFROM $BASE AS app\r\n"
        f"COPY --from={host}/team/app:1.0 /bin/app /app\r\nFROM scratch\r\nCOPY --from=app /app /app\r\n"
    )
    (tmp_path / "compose.yaml").write_text(
        f"services:\n  web:\n    image: '{host}/library/python:3.12-slim'  # pinned below\n"
        f"  built:\n    build: .\n    image: {host}/team/app:dev\n"
    )
    result = run(tmp_path, "fix", "--select", "HD112,HD207", ".")
    assert result.returncode == 0, result.stdout + result.stderr
    pinned = (tmp_path / "Dockerfile").read_bytes().decode()
    assert pinned == (
        f"ARG BASE={host}/library/python:3.12-slim@{index}\r\nFROM $BASE AS app\r\n"
        f"COPY --from={host}/team/app:1.0@{registry.images['single']['manifests']['linux/amd64']} /bin/app /app\r\n"
        "FROM scratch\r\nCOPY --from=app /app /app\r\n"
    )
    dockerfile.parse_string(pinned)
    compose = (tmp_path / "compose.yaml").read_text()
    assert f"image: '{host}/library/python:3.12-slim@{index}'  # pinned below\n" in compose
    assert f"image: {host}/team/app:dev\n" in compose  # a built image is not pinned
    from hardener.compose import validate

    if validate.compose_command():
        model, problem = validate.normalised_model(validate.compose_command(), compose, str(tmp_path / "compose.yaml"))
        assert problem is None and model["services"]["web"]["image"].endswith(index)
    # A second run changes nothing, and the warm cache needs no request.
    again = run(tmp_path, "fix", "--select", "HD112,HD207", ".")
    assert again.returncode == 0 and (tmp_path / "Dockerfile").read_bytes().decode() == pinned


def test_offline_runs_use_only_the_cache(registry, tmp_path):
    (tmp_path / "Dockerfile").write_text(f"FROM {registry.host}/team/app:1.0\n")
    offline = run(tmp_path, "fix", "--diff", "--select", "HD112", ".", offline=True)
    assert "+FROM" not in offline.stdout and "--offline" in offline.stderr
    run(tmp_path, "fix", "--diff", "--select", "HD112", ".")  # fills the cache
    registry_down = run(tmp_path, "fix", "--diff", "--select", "HD112", ".", offline=True)
    assert f"+FROM {registry.host}/team/app:1.0@sha256:" in registry_down.stdout


def test_warm_cache_makes_no_request(registry, tmp_path, monkeypatch):
    from hardener.config import Config
    from hardener.registry.resolve import resolve_references

    monkeypatch.setenv("HARDENER_CACHE_DIR", str(tmp_path))
    keys = {reference_key(f"{registry.host}/team/app:1.0"), reference_key(f"{registry.host}/library/python:3.12-slim")}
    cold, cold_stats = resolve_references(keys, Config(), offline=False)
    warm, warm_stats = resolve_references(keys, Config(), offline=False)
    assert cold == {k: type(v)(v.key, v.digest, v.media_type) for k, v in cold.items()}
    assert cold_stats.requests == 2 and warm_stats.requests == 0 and warm_stats.from_cache == 2
    assert {k: v.digest for k, v in warm.items()} == {k: v.digest for k, v in cold.items()}


def test_a_committed_lock_file_pins_offline(registry, tmp_path):
    digest = "sha256:" + "f" * 64
    (tmp_path / "digests.json").write_text(json.dumps({f"{registry.host}/team/app:1.0": digest}))
    (tmp_path / ".hardener.toml").write_text('digest-lock-file = "digests.json"\nselect = ["HD112"]\n')
    (tmp_path / "Dockerfile").write_text(f"FROM {registry.host}/team/app:1.0\n")
    result = run(tmp_path, "fix", "--diff", ".", offline=True)
    assert f"+FROM {registry.host}/team/app:1.0@{digest}" in result.stdout


def test_credentials_never_appear_in_output(basic_registry, tmp_path):
    config_dir = tmp_path / "docker"
    config_dir.mkdir()
    docker_config(config_dir, basic_registry)
    (tmp_path / "Dockerfile").write_text(
        f"FROM {basic_registry.host}/private/app:2.0\nFROM {basic_registry.host}/private/app:9\n"
    )
    env_result = subprocess.run(
        [sys.executable, "-m", "hardener", "fix", "--diff", "--format", "json", "."],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "DOCKER_CONFIG": str(config_dir), "HARDENER_CACHE_DIR": str(tmp_path / "c")},
    )
    output = env_result.stdout + env_result.stderr
    assert basic_registry.images["private"]["index"] in output
    assert basic_registry.password not in output and "YWxpY2U" not in output  # nor base64 of alice:...


def test_already_pinned_references_need_no_request_and_stay(registry, tmp_path):
    from hardener import engine
    from hardener.config import Config

    digest = registry.images["single"]["manifests"]["linux/amd64"]
    text = f"FROM {registry.host}/team/app:1.0@{digest}\nCOPY --from={registry.host}/library/python:3.12-slim@{registry.images['multi']['index']} / /\n"
    assert engine.image_references(text, "Dockerfile", Config()) == set()
    (tmp_path / "Dockerfile").write_text(text)
    result = run(tmp_path, "fix", "--select", "HD112", ".")
    assert result.returncode == 0 and (tmp_path / "Dockerfile").read_text() == text
    assert not (tmp_path / "cache").exists(), "nothing was resolved, so nothing was cached"
