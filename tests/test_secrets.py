"""Secrets never leave through hardener's output.

A repository holds literal secrets (a compose password, a Dockerfile token); the environment holds a
GitHub token and registry credentials (a DOCKER_CONFIG with Basic auth for a registry the Dockerfile
names, whose manifests redirect to another host). Every channel is captured, from the command line
(text, json, sarif, github; check, fix and fix --diff) and from the Action (pull-request, review and
check modes): standard output and error, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, the SARIF file, pull
request bodies and titles, issue comments, reviews and review comments, commit messages, and the
requests that reached the other host. None of the values may appear, with one exception: the unified
diff that `fix --diff` prints (text and json) shows file content by design, so its own context and
removed lines may carry the secret lines of the file.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys

import pytest

from hardener.github import action

from .fake_github import FakeGitHub
from .registry_server import REGISTRY_BINARY, FaultProxy, start_registry
from .test_github_action import TOKEN, checkout, parse_outputs

if REGISTRY_BINARY is None:
    if os.environ.get("HARDENER_REQUIRE_REGISTRY") == "1":
        pytest.fail("docker-registry is required (HARDENER_REQUIRE_REGISTRY=1) but not installed", pytrace=False)
    pytest.skip("docker-registry is not installed (apt-get install docker-registry)", allow_module_level=True)

DB_PASSWORD = "s3cr3t-db-pw-ZZ9"
API_TOKEN = "tok-ZZ8-secret"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A Basic-auth registry, a front host that redirects manifests elsewhere, and the other host."""
    root = tmp_path_factory.mktemp("secrets")
    registry = start_registry(root / "registry", auth="basic")
    registry.push_image("private/app", "2.0", platforms=("linux/amd64", "linux/arm64"))
    elsewhere = FaultProxy(registry.url, host="127.0.0.2")  # another host on the loopback network
    front = FaultProxy(
        registry.url,
        lambda method, path, headers: (
            (307, {"Location": elsewhere.url + path}, b"")
            if "/manifests/" in path and "Authorization" in headers
            else None
        ),
    )
    docker = root / "docker"
    docker.mkdir()
    auth = base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()
    (docker / "config.json").write_text(json.dumps({"auths": {front.host: {"auth": auth}}}))
    secrets = [DB_PASSWORD, API_TOKEN, TOKEN, registry.password, auth, auth[:12]]
    yield {"registry": registry, "front": front, "elsewhere": elsewhere, "docker": docker, "secrets": secrets}
    front.shutdown()
    elsewhere.shutdown()
    registry.stop()


def repository_files(world) -> dict[str, str]:
    return {
        "app/Dockerfile": (
            f"FROM {world['front'].host}/private/app:2.0\n"
            f"ENV API_TOKEN={API_TOKEN}\n"
            "RUN apt-get update\nRUN apt-get install -y curl\n"
        ),
        "compose.yaml": (
            "services:\n"
            "  db:\n"
            "    image: postgres:16\n"
            "    environment:\n"
            "      POSTGRES_USER: app\n"
            f"      POSTGRES_PASSWORD: {DB_PASSWORD}\n"
        ),
    }


def environment(world, tmp_path) -> dict[str, str]:
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "DOCKER_CONFIG": str(world["docker"]),
        "HARDENER_CACHE_DIR": str(tmp_path / "cache"),
        "GITHUB_TOKEN": TOKEN,
        "HARDENER_COMPOSE": os.environ.get("HARDENER_COMPOSE", ""),
    }
    env.pop("HARDENER_OFFLINE", None)
    if not env["HARDENER_COMPOSE"]:
        del env["HARDENER_COMPOSE"]
    return env


def without_diff_lines(text: str) -> str:
    """Drop the lines of a unified diff that show the file's own content (context and removed lines)."""
    kept, in_hunk = [], False
    for line in text.splitlines():
        if line.startswith("@@"):
            in_hunk = True
        elif line.startswith(("--- a/", "+++ b/")):
            in_hunk = False
        elif in_hunk and line[:1] in (" ", "-", "\\"):
            continue
        kept.append(line)
    return "\n".join(kept)


def assert_clean(text: str, secrets, where: str):
    for secret in secrets:
        assert secret not in text, f"{secret!r} appears in {where}"


def assert_no_credentials_elsewhere(world):
    registry = world["registry"]
    for _method, _path, headers in world["elsewhere"].requests:
        assert "Authorization" not in headers and "authorization" not in {k.lower() for k in headers}
        assert_clean(json.dumps(headers), world["secrets"], "a request to another host")
    assert registry.password not in json.dumps(world["front"].requests)  # sent only as base64 Basic auth


# -- the command line -----------------------------------------------------------------------------------------
CLI_RUNS = {
    "check text": ("check",),
    "check json": ("check", "--format", "json"),
    "check github": ("check", "--format", "github"),
    "check sarif -o": ("check", "--format", "sarif", "-o", "report.sarif"),
    "fix --diff text": ("fix", "--diff", "--unsafe-fixes"),
    "fix --diff json": ("fix", "--diff", "--unsafe-fixes", "--format", "json"),
    "fix --diff github": ("fix", "--diff", "--unsafe-fixes", "--format", "github"),
    "fix text": ("fix", "--unsafe-fixes"),
}


@pytest.mark.parametrize("args", CLI_RUNS.values(), ids=CLI_RUNS.keys())
def test_cli_output_carries_no_secret(world, tmp_path, args):
    for path, text in repository_files(world).items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    before = len(world["elsewhere"].requests)
    result = subprocess.run(
        [sys.executable, "-m", "hardener", *args, "."],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=environment(world, tmp_path),
    )
    assert result.returncode in (0, 1), result.stdout + result.stderr
    assert "HD107" in result.stdout + result.stderr + _read(tmp_path / "report.sarif"), "the ENV secret is reported"
    stdout = result.stdout
    if "--diff" in args and "--format" not in args:
        assert f"-      POSTGRES_PASSWORD: {DB_PASSWORD}" in stdout  # the patch shows the file: the exception
        stdout = without_diff_lines(stdout)
    elif "--diff" in args and "json" in args:
        data = json.loads(stdout)
        for entry in data["files"]:
            entry["diff"] = without_diff_lines(entry.get("diff", ""))
        stdout = json.dumps(data)
    assert_clean(stdout, world["secrets"], f"standard output of {args}")
    assert_clean(result.stderr, world["secrets"], f"standard error of {args}")
    assert_clean(_read(tmp_path / "report.sarif"), world["secrets"], "the SARIF file")
    # The pin was attempted with the credentials, and the redirect to another host got none of them.
    assert len(world["elsewhere"].requests) > before
    assert_no_credentials_elsewhere(world)


def _read(path) -> str:
    return path.read_text() if os.path.exists(path) else ""


# -- the Action ---------------------------------------------------------------------------------------------------
@pytest.fixture
def github(tmp_path, world):
    fake = FakeGitHub(tmp_path, files={**repository_files(world), "README.md": "# shop\n"})
    yield fake
    fake.stop()


def run_online(fake, work, tmp_path, monkeypatch, world, **inputs):
    """Like test_github_action.run_action, but with the registry online and its credentials in the environment."""
    env = {
        "GITHUB_WORKSPACE": str(work),
        "GITHUB_REPOSITORY": f"{fake.owner}/{fake.name}",
        "GITHUB_API_URL": fake.url,
        "GITHUB_OUTPUT": str(tmp_path / "output.txt"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_TOKEN": TOKEN,
        "INPUT_TOKEN": TOKEN,
        "GITHUB_EVENT_PATH": os.environ.get("GITHUB_EVENT_PATH", ""),
        **{f"INPUT_{k.upper().replace('_', '-')}": v for k, v in inputs.items()},
    }
    for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"):
        open(env[name], "w").close()
    monkeypatch.delenv("HARDENER_OFFLINE", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(world["docker"]))
    monkeypatch.setenv("HARDENER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HARDENER_GITHUB_THROTTLE", "0")
    monkeypatch.setenv("HARDENER_GITHUB_RETRY_WAIT", "0")
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    code = action.main(env=env, out=out)
    return code, out.getvalue(), open(env["GITHUB_OUTPUT"]).read(), open(env["GITHUB_STEP_SUMMARY"]).read()


def everything_github_holds(fake: FakeGitHub) -> str:
    messages = fake._git("log", "--all", "--format=%B")
    parts = [messages]
    for pull in fake.pulls.values():
        parts += [pull["title"], pull["body"] or ""]
    parts += [c["body"] for c in fake.comments]
    parts += [r["body"] for r in fake.reviews]
    parts += [json.dumps(c) for c in fake.review_comments]
    return "\n".join(parts)


def assert_action_clean(world, fake, out, outputs, summary, tmp_path):
    first, _, rest = out.partition("\n")
    assert first == f"::add-mask::{TOKEN}", "the token is masked before anything else is printed"
    secrets = world["secrets"]
    assert_clean(rest, secrets, "the Action's log")
    assert_clean(outputs, secrets, "GITHUB_OUTPUT")
    assert_clean(summary, secrets, "GITHUB_STEP_SUMMARY")
    assert_clean(_read(tmp_path / "out.sarif"), secrets, "the SARIF file")
    assert_clean(everything_github_holds(fake), secrets, "what the bot wrote to GitHub")
    assert_no_credentials_elsewhere(world)


def test_pull_request_mode(world, github, tmp_path, monkeypatch):
    work = checkout(github, tmp_path)
    code, out, outputs, summary = run_online(
        github, work, tmp_path, monkeypatch, world, mode="pull-request", unsafe_fixes="true", select="HD1,HD2"
    )
    assert code == 0, out
    pull = next(iter(github.pulls.values()))
    assert "HD206" in pull["body"], "the secret was moved out, and the pull request says so"
    assert "POSTGRES_PASSWORD_FILE: /run/secrets/postgres_password" in github.read("hardener/harden", "compose.yaml")
    assert "refused access" in pull["body"] or "could not" in pull["body"] or "Images not pinned" in pull["body"]
    assert parse_outputs(outputs)["pr-number"]
    assert_action_clean(world, github, out, outputs, summary, tmp_path)


def test_review_mode(world, github, tmp_path, monkeypatch):
    # A contributor's pull request adds both files (every line is new, so every suggestion can be posted).
    github.commit_files(
        "feature",
        {
            "svc/Dockerfile": repository_files(world)["app/Dockerfile"],
            "svc/compose.yaml": repository_files(world)["compose.yaml"],
        },
        "add svc",
    )
    number = github.open_pull_from("feature")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": number}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    work = checkout(github, tmp_path, "feature")
    code, out, outputs, summary = run_online(
        github, work, tmp_path, monkeypatch, world, mode="review", unsafe_fixes="true", select="HD1,HD2"
    )
    assert code == 0, out
    assert github.reviews and github.review_comments, "suggestions were posted"
    assert_action_clean(world, github, out, outputs, summary, tmp_path)


def test_check_mode(world, github, tmp_path, monkeypatch):
    work = checkout(github, tmp_path)
    code, out, outputs, summary = run_online(
        github, work, tmp_path, monkeypatch, world, mode="check", sarif_file=str(tmp_path / "out.sarif")
    )
    assert code == 0, out
    assert "HD107" in out and "HD206" in _read(tmp_path / "out.sarif")
    assert_action_clean(world, github, out, outputs, summary, tmp_path)
    assert not github.writes
