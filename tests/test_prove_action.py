"""The Action's `prove` input: the stacks start on the runner's daemon before the pull request is
written, only what still works is committed, the pull request says what was started, the token
never reaches a container, and a pull request from a fork is never run."""

import json

import pytest

from hardener.github.action import from_a_fork
from hardener.prove.docker import leftovers

from .docker_daemon import ensure_debian_tag, ensure_stand_ins, exclusive_daemon, require_daemon
from .fake_github import FakeGitHub
from .test_github_action import TOKEN, checkout, run_action

# One daemon, one set of images: under pytest-xdist these modules share a worker.
pytestmark = pytest.mark.xdist_group("docker")


@pytest.fixture(scope="module", autouse=True)
def one_module_on_the_daemon():
    with exclusive_daemon():
        yield


# `probe` exits at once if the token reached its environment, which would fail the baseline.
COMPOSE = """\
services:
  cache:
    image: redis:7
    pull_policy: never
    volumes:
      - cache-data:/data
  probe:
    image: debian:bookworm
    pull_policy: never
    environment:
      - INPUT_TOKEN
      - GITHUB_TOKEN
    command: ["sh", "-c", "env | grep -q ghs_ && exit 3; exec sleep 3600"]
volumes:
  cache-data:
"""
SETTINGS = "unsafe-fixes = true\n"


def event(tmp_path, head: str | None, base: str = "acme/shop"):
    path = tmp_path / "event.json"
    pull = {"head": {"repo": {"full_name": head} if head else None}, "base": {"repo": {"full_name": base}}}
    path.write_text(json.dumps({"pull_request": pull}))
    return {"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(path)}


def test_a_pull_request_from_a_fork_is_not_run(tmp_path):
    assert "another repository (evil/shop)" in from_a_fork(event(tmp_path, "evil/shop"))
    assert "deleted" in from_a_fork(event(tmp_path, None))
    assert from_a_fork(event(tmp_path, "acme/shop")) is None
    assert from_a_fork({"GITHUB_EVENT_NAME": "schedule"}) is None
    unreadable = {"GITHUB_EVENT_NAME": "pull_request_target", "GITHUB_EVENT_PATH": str(tmp_path / "missing")}
    assert "may come from a fork" in from_a_fork(unreadable)


def test_prove_refused_on_a_fork_commits_no_behaviour_change(tmp_path, monkeypatch):
    fake = FakeGitHub(tmp_path, files={"compose.yaml": COMPOSE, ".hardener.toml": SETTINGS})
    try:
        work = checkout(fake, tmp_path)
        fork = event(tmp_path, "evil/shop")
        code, out, outputs, _ = run_action(
            fake, work, tmp_path, monkeypatch, workflow_env=fork, prove="true", select="HD2"
        )
        assert code == 0, out
        assert "prove refused: the pull request comes from another repository (evil/shop)" in out
        fixed = fake.read("hardener/harden", "compose.yaml")
        assert "no-new-privileges:true" in fixed, "safe fixes still apply"
        assert "cap_drop" not in fixed and "user: redis" not in fixed, "nothing unproven changes behaviour"
        body = fake.pulls[int(outputs["pr-number"])]["body"]
        assert "Not proven: prove refused" in body
    finally:
        fake.stop()


def test_prove_in_the_action_commits_what_still_works_and_says_so(tmp_path, monkeypatch):
    require_daemon()
    ensure_stand_ins(tmp_path)
    ensure_debian_tag(tmp_path)
    fake = FakeGitHub(tmp_path, files={"compose.yaml": COMPOSE, ".hardener.toml": SETTINGS})
    try:
        work = checkout(fake, tmp_path)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)  # as a workflow's environment may hold it
        workflow = {"GITHUB_TOKEN": TOKEN, "GITHUB_EVENT_NAME": "schedule"}
        code, out, outputs, _ = run_action(
            fake, work, tmp_path, monkeypatch, workflow_env=workflow, prove="true", select="HD2"
        )
        assert code == 0, out
        fixed = fake.read("hardener/harden", "compose.yaml")
        assert "user: redis" in fixed and "cap_drop" in fixed
        probe = fixed.split("  probe:")[1]
        assert "mem_limit:" in probe and "read_only: true" in probe, "values learned from the running probe"
        body = fake.pulls[int(outputs["pr-number"])]["body"]
        assert "### Started on real containers" in body
        assert "**HD205** proven: set \\`user: redis\\`" in body
        assert "probe (running" in body, "the probe started: the token was not in its environment"
        assert TOKEN not in body
        assert TOKEN not in out.replace(f"::add-mask::{TOKEN}", ""), "masked first, never printed"
        assert leftovers() == []
    finally:
        fake.stop()
