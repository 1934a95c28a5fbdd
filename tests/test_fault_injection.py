"""Faults on the network edges: the registry client and the GitHub bot.

Registry: a real registry (Debian's docker-registry) behind tests/registry_server.FaultProxy, and a tiny
socket server that accepts and closes. Every run must end within a bounded time and say, per image, why
it was not pinned; one failing registry never fails the run.

GitHub: tests/fake_github.FakeGitHub (real PyGithub over HTTP, a real bare git repository) with faults
added by subclassing. The Action must end with one clear error line and never leave a half-made pull
request: the branch ref is moved only after its blobs, tree and commit exist, and a pull request is only
opened on a branch that holds the whole change.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time

import pytest

from hardener.registry.client import RegistryClient

from .fake_github import FakeGitHub
from .registry_server import REGISTRY_BINARY, FaultProxy, start_registry
from .test_github_action import COMPOSE, SPLIT_APT, checkout, run_action

needs_registry = pytest.mark.skipif(
    REGISTRY_BINARY is None and os.environ.get("HARDENER_REQUIRE_REGISTRY") != "1",
    reason="docker-registry is not installed (apt-get install docker-registry)",
)


# -- the registry --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    if REGISTRY_BINARY is None:
        pytest.skip("docker-registry is not installed")
    server = start_registry(tmp_path_factory.mktemp("faults"))
    server.images = {
        "multi": server.push_image("library/python", "3.12-slim", platforms=("linux/amd64", "linux/arm64"))
    }
    yield server
    server.stop()


class ResetServer:
    """Accepts each connection and closes it at once with a reset (SO_LINGER 0): nothing is ever answered."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.host = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted = 0
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        import struct

        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    def close(self):
        self._stop = True
        self.sock.close()


def fault_client() -> RegistryClient:
    return RegistryClient(timeout=0.5, attempts=2, backoff=0.01, max_wait=0.5)


def timed(fn):
    started = time.monotonic()
    value = fn()
    return value, time.monotonic() - started


@needs_registry
def test_registry_slower_than_the_timeout_is_skipped_in_bounded_time(registry):
    proxy = FaultProxy(registry.url, lambda method, path, headers: time.sleep(2) if "/manifests/" in path else None)
    try:
        with fault_client() as client:
            resolution, elapsed = timed(lambda: client.resolve(f"{proxy.host}/library/python:3.12-slim"))
        assert resolution.digest is None
        assert resolution.error == f"{proxy.host} timed out after 2 attempts"
        assert elapsed < 3, f"two 0.5 s attempts took {elapsed:.1f} s"
    finally:
        proxy.shutdown()


@needs_registry
def test_slow_but_in_time_responses_still_pin(registry):
    proxy = FaultProxy(registry.url, lambda method, path, headers: time.sleep(0.2))
    try:
        with fault_client() as client:
            resolution, elapsed = timed(lambda: client.resolve(f"{proxy.host}/library/python:3.12-slim"))
        assert resolution.digest == registry.images["multi"]["index"]
        assert elapsed < 3
    finally:
        proxy.shutdown()


def test_connection_resets_are_skipped_in_bounded_time():
    server = ResetServer()
    try:
        with fault_client() as client:
            resolution, elapsed = timed(lambda: client.resolve(f"{server.host}/library/python:3.12"))
        assert resolution.digest is None
        assert re.fullmatch(rf"{re.escape(server.host)} could not be reached \(.+\) after 2 attempts", resolution.error)
        assert server.accepted == 2 and elapsed < 2
    finally:
        server.close()


@needs_registry
@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_error_storm_is_skipped_in_bounded_time(registry, status):
    proxy = FaultProxy(registry.url, lambda method, path, headers: (status, {}, b"storm"))
    try:
        with fault_client() as client:
            resolution, elapsed = timed(lambda: client.resolve(f"{proxy.host}/library/python:3.12-slim"))
        assert resolution.error == f"{proxy.host} answered HTTP {status} after 2 attempts"
        assert len(proxy.requests) == 2 and elapsed < 2
    finally:
        proxy.shutdown()


@needs_registry
def test_retry_after_is_capped_by_max_wait(registry):
    # A registry asking to wait an hour does not hold the run for an hour.
    proxy = FaultProxy(registry.url, lambda method, path, headers: (503, {"Retry-After": "3600"}, b""))
    try:
        with fault_client() as client:
            resolution, elapsed = timed(lambda: client.resolve(f"{proxy.host}/library/python:3.12-slim"))
        assert "HTTP 503 after 2 attempts" in resolution.error and elapsed < 2
    finally:
        proxy.shutdown()


@needs_registry
def test_one_failing_registry_never_fails_the_others(registry):
    server = ResetServer()
    storm = FaultProxy(registry.url, lambda method, path, headers: (502, {}, b""))
    try:
        refs = [
            f"{server.host}/a/b:1",
            f"{storm.host}/library/python:3.12-slim",
            f"{registry.host}/library/python:3.12-slim",
        ]
        with fault_client() as client:
            results, elapsed = timed(lambda: client.resolve_many(refs))
        digests = {key.split("/")[0]: r.digest for key, r in results.items()}
        assert digests == {server.host: None, storm.host: None, registry.host: registry.images["multi"]["index"]}
        assert elapsed < 3
    finally:
        server.close()
        storm.shutdown()


def cli(tmp_path, *args):
    env = {**os.environ, "NO_COLOR": "1", "HARDENER_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("HARDENER_OFFLINE", None)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "hardener", *args], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=60
    )
    return result, time.monotonic() - started


@needs_registry
def test_the_cli_reports_each_skip_reason_and_finishes(registry, tmp_path):
    """Defaults (3 attempts, 0.5 s backoff): resets and a 5xx storm cost seconds, and each image says why."""
    server = ResetServer()
    storm = FaultProxy(registry.url, lambda method, path, headers: (503, {}, b""))
    try:
        (tmp_path / "Dockerfile").write_text(
            f"FROM {server.host}/team/base:1 AS base\nFROM {storm.host}/library/python:3.12-slim\n"
            f"COPY --from={registry.host}/library/python:3.12-slim /x /x\n"
        )
        result, elapsed = cli(tmp_path, "fix", "--diff", "--select", "HD112", ".")
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"{server.host} could not be reached" in result.stderr and "after 3 attempts" in result.stderr
        assert f"{storm.host} answered HTTP 503 after 3 attempts" in result.stderr
        assert f"{registry.host}/library/python:3.12-slim@{registry.images['multi']['index']}" in result.stdout
        assert elapsed < 15, f"{elapsed:.1f} s"
    finally:
        server.close()
        storm.shutdown()


# -- GitHub ---------------------------------------------------------------------------------------------------
class Reset(BaseException):
    """Raised from dispatch: it escapes the fake's handler, and the server closes the connection unanswered."""


class FaultyGitHub(FakeGitHub):
    """FakeGitHub with a `fault(method, path)` hook: None to serve, "reset", or (status, data, headers)."""

    fault = None

    def dispatch(self, method, raw_path, body, headers):
        fault = self.fault(method, raw_path.split("?")[0]) if self.fault else None
        if fault == "reset":
            with self._lock:
                self.calls.append((method, raw_path.split("?")[0]))
            raise Reset()
        if fault is not None:
            with self._lock:
                self.calls.append((method, raw_path.split("?")[0]))
            return fault
        return super().dispatch(method, raw_path, body, headers)


@pytest.fixture
def github(tmp_path):
    files = {
        "app/Dockerfile": SPLIT_APT,
        "compose.yaml": COMPOSE,
        "README.md": "# shop\n",
        ".hardener.toml": "compose-check = false\n",  # Docker Compose is not what these tests are about
    }
    fake = FaultyGitHub(tmp_path, files=files)
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def quiet_thread_errors(monkeypatch):
    """The fake's handler threads end with Reset on purpose; keep their tracebacks out of the log."""
    original = threading.excepthook
    monkeypatch.setattr(threading, "excepthook", lambda args: None if args.exc_type is Reset else original(args))


BRANCH = "hardener/harden"
STEPS = {
    # where the write fails: (method, path pattern)
    "tree": ("POST", r".*/git/trees"),
    "commit": ("POST", r".*/git/commits"),
    "create ref": ("POST", r".*/git/refs"),
    "move ref": ("PATCH", r".*/git/refs/heads/.*"),
    "pull request": ("POST", r".*/pulls"),
    "edit pull request": ("PATCH", r".*/pulls/\d+"),
}
FAULTS = {
    "5xx storm": (502, {"message": "Server Error"}, None),
    "secondary rate limit that never clears": (
        403,
        {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."},
        {"Retry-After": "0"},
    ),
    "connection reset": "reset",
}


def at(step: str, fault):
    method, pattern = STEPS[step]
    return lambda m, p: fault if m == method and re.fullmatch(pattern, p) else None


def assert_no_half_made_pull_request(fake: FakeGitHub, old_head: str | None):
    """The branch is absent, at its old commit, or at a complete commit; every open PR has its branch."""
    head = fake.ref(BRANCH)
    if head is not None and head != old_head:
        # A moved branch holds the whole change: every fixed file, on top of main.
        assert sorted(fake.changed_files("main", BRANCH)) == ["app/Dockerfile", "compose.yaml"]
        assert fake._git("rev-parse", f"{head}^") == fake.ref("main")
    for pull in fake.pulls.values():
        if pull["state"] == "open":
            assert fake.ref(pull["head"]) is not None, "an open pull request without its branch"


def run_guarded(fake, work, tmp_path, monkeypatch, **inputs):
    """run_action, bounded in time; an exception that escapes the Action is returned, not raised."""
    started = time.monotonic()
    try:
        code, out, outputs, summary = run_action(fake, work, tmp_path, monkeypatch, **inputs)
    except Exception as exc:
        code, out, outputs, summary = exc, "", {}, ""
    elapsed = time.monotonic() - started
    assert elapsed < 20, f"the Action took {elapsed:.1f} s"
    return code, out, outputs, summary


ERROR_LINE = re.compile(r"::error::hardener: .+")
ESCAPES = (
    "bug: when PyGithub's retries run out (5xx storm, a secondary rate limit that never clears) or the connection "
    "is reset, requests' RetryError/ConnectionError escapes action.main (it catches only GithubException and "
    "BotError): a traceback instead of one ::error:: line"
)


def assert_one_error_line(code, out):
    assert not isinstance(code, BaseException), f"the Action raised {type(code).__name__}: {code}"
    assert code == 1, out
    errors = [line for line in out.splitlines() if line.startswith("::error::")]
    assert len(errors) == 1 and ERROR_LINE.fullmatch(errors[0]), out
    return errors[0]


RATE = "secondary rate limit that never clears"


@pytest.mark.parametrize(
    "step,fault",
    [
        ("tree", "5xx storm"),
        ("tree", "connection reset"),
        ("commit", RATE),
        ("create ref", "5xx storm"),
        ("create ref", "connection reset"),
        ("pull request", "5xx storm"),
        ("pull request", "connection reset"),
    ],
)
def test_a_failed_first_run_leaves_no_half_made_pull_request(github, tmp_path, monkeypatch, step, fault):
    github.fault = at(step, FAULTS[fault])
    code, out, outputs, _ = run_guarded(github, checkout(github, tmp_path), tmp_path, monkeypatch)
    assert code != 0, out
    assert outputs.get("pr-number", "") == ""
    assert not github.pulls, "no pull request after a failed run"
    if step != "pull request":
        assert github.ref(BRANCH) is None, "the branch is made only after its commit exists"
    assert_no_half_made_pull_request(github, None)
    assert not github.errors
    # The next run, with GitHub healthy again, finishes the job with one pull request.
    github.fault = None
    code, out, outputs, _ = run_guarded(github, checkout(github, tmp_path), tmp_path, monkeypatch)
    assert code == 0 and outputs["pr-number"], out
    assert len(github.pulls) == 1
    assert_no_half_made_pull_request(github, None)


@pytest.mark.parametrize(
    "step,fault",
    [
        ("commit", "connection reset"),
        ("move ref", "5xx storm"),
        ("move ref", "connection reset"),
        ("edit pull request", RATE),
    ],
)
def test_a_failed_update_keeps_the_old_branch(github, tmp_path, monkeypatch, step, fault):
    run_action(github, checkout(github, tmp_path), tmp_path, monkeypatch)
    [number] = github.pulls
    old_head = github.ref(BRANCH)
    old_body = github.pulls[number]["body"]
    github.commit_files("main", {"worker/Dockerfile": "FROM alpine:3.20\nRUN apk add curl\n"}, "add a worker")
    github.fault = at(step, FAULTS[fault])
    code, out, _, _ = run_guarded(github, checkout(github, tmp_path), tmp_path, monkeypatch)
    assert code != 0, out
    head = github.ref(BRANCH)
    if step in ("tree", "commit", "move ref"):
        assert head == old_head, "the branch still points to its old commit"
        assert github.pulls[number]["body"] == old_body
    else:
        # The ref moved (last of the git writes); only the description is behind, and the next run catches up.
        assert head != old_head and "worker/Dockerfile" in github.changed_files("main", BRANCH)
    assert len(github.pulls) == 1 and github.pulls[number]["state"] == "open"
    github.fault = None
    code, out, outputs, _ = run_guarded(github, checkout(github, tmp_path), tmp_path, monkeypatch)
    assert code == 0 and outputs["pr-number"] == str(number), out
    assert "worker/Dockerfile" in github.pulls[number]["body"]


def escapes(step, fault):
    return pytest.param(step, fault, id=f"{step}-{fault}")


@pytest.mark.parametrize(
    "step,fault",
    [
        # Not retried by PyGithub (PATCH): the GithubException is explained in one line.
        pytest.param("move ref", "5xx storm", id="move ref-5xx storm"),
        pytest.param("move ref", "secondary rate limit that never clears", id="move ref-rate limit"),
        # Retried until PyGithub gives up, or not an HTTP answer at all: the exception escapes.
        escapes("tree", "5xx storm"),
        escapes("tree", "secondary rate limit that never clears"),
        escapes("tree", "connection reset"),
    ],
)
def test_a_failed_run_ends_with_one_clear_error_line(github, tmp_path, monkeypatch, step, fault):
    run_action(github, checkout(github, tmp_path), tmp_path, monkeypatch)
    github.commit_files("main", {"worker/Dockerfile": "FROM alpine:3.20\nRUN apk add curl\n"}, "add a worker")
    github.fault = at(step, FAULTS[fault])
    code, out, _, _ = run_guarded(github, checkout(github, tmp_path), tmp_path, monkeypatch)
    error = assert_one_error_line(code, out)
    if "rate limit" in fault:
        assert "rate limit" in error and "run again later" in error, error
    else:
        assert "GitHub answered HTTP 502" in error or "could not reach GitHub" in error, error


def test_a_pull_request_made_but_its_answer_lost_is_not_made_twice(github, tmp_path, monkeypatch):
    """GitHub opens the pull request, then the answer is lost (502): the retried POST gets 422, and is adopted."""
    original = FakeGitHub.dispatch
    lost = {"n": 0}

    def fault(method, path):
        return None

    def dispatch(self, method, raw_path, body, headers):
        status, data, extra = original(self, method, raw_path, body, headers)
        if method == "POST" and raw_path.endswith("/pulls") and status == 201 and lost["n"] == 0:
            lost["n"] += 1
            return 502, {"message": "Server Error"}, None
        return status, data, extra

    github.fault = fault
    monkeypatch.setattr(FaultyGitHub, "dispatch", dispatch)
    code, out, outputs, _ = run_guarded(github, checkout(github, tmp_path), tmp_path, monkeypatch)
    assert lost["n"] == 1, "the fault was injected"
    assert len(github.pulls) == 1, "one pull request, not two"
    assert code == 0 and outputs["pr-number"] == str(next(iter(github.pulls))), out


@pytest.mark.parametrize("fault", ["5xx storm", "connection reset"])
def test_review_mode_faults_end_with_a_clear_message(github, tmp_path, monkeypatch, fault):
    import json

    github.commit_files(
        "feature", {"app/Dockerfile": SPLIT_APT + "RUN apt-get update && apt-get install -y git\n"}, "x"
    )
    number = github.open_pull_from("feature")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": number}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    github.fault = lambda m, p: FAULTS[fault] if m == "POST" and p.endswith("/reviews") else None
    code, out, _, _ = run_guarded(
        github, checkout(github, tmp_path, "feature"), tmp_path, monkeypatch, mode="review", select="HD103,HD104"
    )
    assert not github.reviews and not github.review_comments
    assert_one_error_line(code, out)


def test_every_request_failing_ends_with_one_error(github, tmp_path, monkeypatch):
    github.fault = lambda m, p: (503, {"message": "Service Unavailable"}, None)
    code, out, _, _ = run_guarded(github, checkout(github, tmp_path), tmp_path, monkeypatch)
    assert github.ref(BRANCH) is None and not github.pulls
    assert_one_error_line(code, out)
