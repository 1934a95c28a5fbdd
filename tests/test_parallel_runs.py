"""Runs over hundreds of files, with the default --jobs, finish: offline, against a real registry, and in the Action.

Every run here parses Dockerfiles in the main process before the files are processed (the pinning
pre-pass reads a lock file offline, the registry online), the order of work that once left forked
worker processes waiting forever on the Dockerfile parser's Go runtime. A hang fails the test
through the subprocess timeout instead of holding up CI.
"""

import json
import os
import signal
import subprocess
import sys

import pytest

from .registry_server import REGISTRY_BINARY, start_registry

DOCKERFILES = 240
COMPOSE_FILES = 60  # one service folder in four also has a compose file
TIMEOUT = 300  # seconds; a normal run takes a few


def make_tree(root, image: str) -> None:
    for n in range(DOCKERFILES):
        folder = root / f"svc{n:03}"
        folder.mkdir()
        (folder / "Dockerfile").write_text(
            f"FROM {image}\nRUN apt-get update\nRUN apt-get install -y curl\nCMD [\"curl\", \"--version\"]\n"
        )
        if n % (DOCKERFILES // COMPOSE_FILES) == 0:
            (folder / "compose.yaml").write_text(f"services:\n  web{n}:\n    image: {image}\n    read_only: true\n")


def hardener(root, *args, online=False, env=None):
    """Run the CLI (or the Action, named by its module) in `root`; a hang fails the test."""
    env = {**os.environ, "NO_COLOR": "1", "HARDENER_CACHE_DIR": str(root.parent / f"cache-{root.name}"), **(env or {})}
    env.pop("HARDENER_OFFLINE", None)
    if not online:
        env["HARDENER_OFFLINE"] = "1"
    module = args if args[0] == "hardener.github.action" else ("hardener", *args)
    # A session of its own, so that a hang ends with every process of the run, workers included.
    with subprocess.Popen(
        [sys.executable, "-m", *module],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            pytest.fail(f"`python -m {' '.join(module)}` did not finish in {TIMEOUT} s")
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def check_then_fix(root, image: str, digest: str, online: bool) -> None:
    files = DOCKERFILES + COMPOSE_FILES
    check = hardener(root, "check", "--format", "json", ".", online=online)
    assert check.returncode == 1, check.stdout[-2000:] + check.stderr[-2000:]
    report = json.loads(check.stdout)
    assert len(report["files"]) == files and not report["errors"]
    pins = [f for f in report["findings"] if f["rule"] in ("HD112", "HD207")]
    assert len(pins) == files, "every file's image can be pinned"

    # The same report, in the same order, as a run in one process.
    serial = hardener(root, "check", "--format", "json", "-j", "1", ".", online=online)
    assert serial.stdout == check.stdout

    diff = hardener(root, "fix", "--diff", ".", online=online)
    serial_diff = hardener(root, "fix", "--diff", "-j", "1", ".", online=online)
    assert diff.returncode == serial_diff.returncode == 1, diff.stdout[-2000:] + diff.stderr[-2000:]
    assert diff.stdout == serial_diff.stdout

    fix = hardener(root, "fix", ".", online=online)
    assert fix.returncode in (0, 1), fix.stdout[-2000:] + fix.stderr[-2000:]
    assert "error" not in fix.stdout
    for n in range(DOCKERFILES):
        text = (root / f"svc{n:03}" / "Dockerfile").read_text()
        assert f"FROM {image}@{digest}\n" in text and "apt-get update && \\" in text
    composed = sorted(root.glob("*/compose.yaml"))
    assert len(composed) == COMPOSE_FILES
    for path in composed:
        text = path.read_text()
        assert f"image: {image}@{digest}\n" in text and "no-new-privileges:true" in text


def test_hundreds_of_files_offline_with_a_lock_file(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    image, digest = "registry.example.com/team/app:1.0", "sha256:" + "c" * 64
    (root / "digests.json").write_text(json.dumps({image: digest}))
    (root / ".hardener.toml").write_text('digest-lock-file = "digests.json"\n')
    make_tree(root, image)
    check_then_fix(root, image, digest, online=False)


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    if REGISTRY_BINARY is None:
        if os.environ.get("HARDENER_REQUIRE_REGISTRY") == "1":
            pytest.fail("docker-registry is required (HARDENER_REQUIRE_REGISTRY=1) but not installed")
        pytest.skip("docker-registry is not installed (apt-get install docker-registry)")
    server = start_registry(tmp_path_factory.mktemp("registry"))
    server.index = server.push_image("library/python", "3.12-slim", platforms=("linux/amd64", "linux/arm64"))["index"]
    yield server
    server.stop()


def test_hundreds_of_files_online_against_a_registry(registry, tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    image = f"{registry.host}/library/python:3.12-slim"
    make_tree(root, image)
    check_then_fix(root, image, registry.index, online=True)


def test_the_action_in_check_mode_over_hundreds_of_files(registry, tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    image = f"{registry.host}/library/python:3.12-slim"
    make_tree(root, image)
    outputs = tmp_path / "outputs.txt"
    env = {
        "GITHUB_WORKSPACE": str(root),
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "INPUT_MODE": "check",
    }
    result = hardener(root, "hardener.github.action", online=True, env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert f"Scanned {DOCKERFILES + COMPOSE_FILES} files" in result.stdout and "findings<<" in outputs.read_text()
    assert "svc239/Dockerfile" in result.stdout
