"""The Action end to end: real PyGithub over HTTP against a fake GitHub backed by a real git repository."""

import io
import json
import os
import subprocess
import sys

import pytest

from hardener.github import action

from .fake_github import FakeGitHub

TOKEN = "ghs_s3cretT0kenValue1234567890"
SPLIT_APT = 'FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl\nCMD ["bash"]\n'
COMPOSE = "services:\n  web:\n    image: nginx:1.27\n"


@pytest.fixture
def github(tmp_path):
    fake = FakeGitHub(tmp_path, files={"app/Dockerfile": SPLIT_APT, "compose.yaml": COMPOSE, "README.md": "# shop\n"})
    yield fake
    fake.stop()


def checkout(fake, tmp_path, branch="main"):
    work = tmp_path / f"work-{branch.replace('/', '-')}"
    if work.exists():
        subprocess.run(["git", "-C", str(work), "fetch", "-q", "origin"], check=True)
        subprocess.run(["git", "-C", str(work), "reset", "-q", "--hard", f"origin/{branch}"], check=True)
    else:
        subprocess.run(["git", "clone", "-q", "-b", branch, str(fake.git_dir), str(work)], check=True)
    return work


def run_action(fake, work, tmp_path, monkeypatch, workflow_env=None, **inputs):
    env = {
        **(workflow_env or {}),
        "GITHUB_WORKSPACE": str(work),
        "GITHUB_REPOSITORY": f"{fake.owner}/{fake.name}",
        "GITHUB_API_URL": fake.url,
        "GITHUB_OUTPUT": str(tmp_path / "output.txt"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "INPUT_TOKEN": TOKEN,
        "INPUT_SELECT": "HD1,HD2",
        "GITHUB_EVENT_PATH": (workflow_env or {}).get("GITHUB_EVENT_PATH", os.environ.get("GITHUB_EVENT_PATH", "")),
        **{f"INPUT_{k.upper().replace('_', '-')}": v for k, v in inputs.items()},
    }
    for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"):
        open(env[name], "w").close()
    monkeypatch.setenv("HARDENER_OFFLINE", "1")
    monkeypatch.setenv("HARDENER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HARDENER_GITHUB_THROTTLE", "0")
    monkeypatch.setenv("HARDENER_GITHUB_RETRY_WAIT", "0")
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    code = action.main(env=env, out=out)
    outputs = parse_outputs(open(env["GITHUB_OUTPUT"]).read())
    return code, out.getvalue(), outputs, open(env["GITHUB_STEP_SUMMARY"]).read()


def parse_outputs(text):
    values, lines = {}, iter(text.splitlines())
    for line in lines:
        name, _, delimiter = line.partition("<<")
        values[name] = "\n".join(iter(lambda: next(lines), delimiter))
    return values


def test_first_run_opens_a_pull_request_with_exactly_the_fixed_files(github, tmp_path, monkeypatch):
    work = checkout(github, tmp_path)
    code, out, outputs, summary = run_action(github, work, tmp_path, monkeypatch, labels="security, hardening")
    assert code == 0, out
    assert outputs["pr-number"] and outputs["pr-url"].endswith(f"/pull/{outputs['pr-number']}")
    assert outputs["changed-files"].split() == ["app/Dockerfile", "compose.yaml"]
    assert sorted(github.changed_files("main", "hardener/harden")) == ["app/Dockerfile", "compose.yaml"]
    head = github.ref("hardener/harden")
    assert head in github.verified, "commits made without an author are verified"
    assert github.read("hardener/harden", "app/Dockerfile").startswith("FROM debian:12\nRUN apt-get update && \\\n")
    assert github.read("main", "app/Dockerfile") == SPLIT_APT, "the base branch is never written to"
    pull = github.pulls[int(outputs["pr-number"])]
    assert pull["labels"] == ["hardening", "security"] and pull["head"] == "hardener/harden"
    assert pull["body"].startswith("<!-- hardener:pull-request v1 -->")
    assert "| `app/Dockerfile` | 2 | HD102 package-update-in-own-layer | safe |" in pull["body"]
    assert "opened pull request" in summary


def test_second_run_without_changes_makes_no_api_write(github, tmp_path, monkeypatch):
    work = checkout(github, tmp_path)
    run_action(github, work, tmp_path, monkeypatch)
    writes = len(github.writes)
    code, out, outputs, _ = run_action(github, work, tmp_path, monkeypatch)
    assert code == 0 and len(github.writes) == writes
    assert "is up to date" in out


def test_a_change_in_the_repository_updates_the_same_pull_request(github, tmp_path, monkeypatch):
    work = checkout(github, tmp_path)
    first = run_action(github, work, tmp_path, monkeypatch)[2]["pr-number"]
    old_head = github.ref("hardener/harden")
    github.commit_files("main", {"worker/Dockerfile": "FROM alpine:3.20\nRUN apk add curl\n"}, "add a worker")
    work = checkout(github, tmp_path)
    code, out, outputs, _ = run_action(github, work, tmp_path, monkeypatch)
    assert code == 0 and outputs["pr-number"] == first
    assert len([p for p in github.pulls.values() if p["user"] == "github-actions[bot]"]) == 1
    assert github.ref("hardener/harden") != old_head
    assert "worker/Dockerfile" in github.changed_files("main", "hardener/harden")
    assert "worker/Dockerfile" in github.pulls[int(first)]["body"]


def test_nothing_left_to_fix_closes_the_pull_request(github, tmp_path, monkeypatch):
    work = checkout(github, tmp_path)
    number = int(run_action(github, work, tmp_path, monkeypatch)[2]["pr-number"])
    # The maintainer merges the fixes.
    fixed = {p: github.read("hardener/harden", p) for p in ("app/Dockerfile", "compose.yaml")}
    github.commit_files("main", fixed, "merge hardening")
    work = checkout(github, tmp_path)
    code, out, outputs, _ = run_action(github, work, tmp_path, monkeypatch)
    assert code == 0 and github.pulls[number]["state"] == "closed"
    assert github.comments[-1]["body"].startswith("hardener has nothing left to fix")
    assert github.ref("hardener/harden") is None


def test_api_calls_stay_within_a_constant(github, tmp_path, monkeypatch):
    github.commit_files(
        "main", {f"svc{n}/Dockerfile": "FROM alpine:3.20\nRUN apk add curl\n" for n in range(6)}, "more"
    )
    work = checkout(github, tmp_path)
    run_action(github, work, tmp_path, monkeypatch, labels="security")
    files = len(github.changed_files("main", "hardener/harden"))
    assert files == 8
    assert len(github.writes) <= 5  # tree (contents inline), commit, ref, pull, labels
    assert len(github.calls) <= 16


def test_actions_not_allowed_to_create_pull_requests(github, tmp_path, monkeypatch):
    github.forbid_pull_requests = True
    code, out, _, _ = run_action(github, checkout(github, tmp_path), tmp_path, monkeypatch)
    assert code == 1
    assert "Allow GitHub Actions to create and approve pull requests" in out


def test_missing_write_permissions(github, tmp_path, monkeypatch):
    github.read_only = True
    code, out, _, _ = run_action(github, checkout(github, tmp_path), tmp_path, monkeypatch)
    assert code == 1 and "contents: write" in out and "pull-requests: write" in out


def test_secondary_rate_limit_is_waited_out(github, tmp_path, monkeypatch):
    github.rate_limit_next_writes = 2
    code, out, outputs, _ = run_action(github, checkout(github, tmp_path), tmp_path, monkeypatch)
    assert code == 0 and outputs["pr-number"]


def test_a_branch_not_made_by_hardener_is_never_overwritten(github, tmp_path, monkeypatch):
    github.commit_files("hardener/harden", {"notes.txt": "mine\n"}, "someone else's work")
    before = github.ref("hardener/harden")
    code, out, _, _ = run_action(github, checkout(github, tmp_path), tmp_path, monkeypatch)
    assert code == 1 and "was not made by hardener" in out
    assert github.ref("hardener/harden") == before and not github.pulls


def test_the_base_branch_is_never_written_even_when_named_as_the_bot_branch(github, tmp_path, monkeypatch):
    # A squash merge of hardener's pull request leaves its trailer on the base branch's head.
    from hardener.github.pr import TRAILER

    github.commit_files("main", {"notes.txt": "merged\n"}, f"Harden container definitions\n\n{TRAILER}")
    before = github.ref("main")
    code, out, _, _ = run_action(github, checkout(github, tmp_path), tmp_path, monkeypatch, branch="main")
    assert code == 1 and "names the base branch 'main'" in out
    assert github.ref("main") == before and not github.pulls


def test_the_token_is_masked_and_never_printed(github, tmp_path, monkeypatch):
    code, out, outputs, summary = run_action(github, checkout(github, tmp_path), tmp_path, monkeypatch)
    assert out.startswith(f"::add-mask::{TOKEN}\n")
    rest = out.split("\n", 1)[1]
    assert TOKEN not in rest and TOKEN not in summary and TOKEN not in json.dumps(outputs)
    assert all(TOKEN not in p["body"] for p in github.pulls.values())


# -- review mode --------------------------------------------------------------------
def open_contributor_pull(github, tmp_path, head_repo=None):
    # A contributor adds an apt line and a new service; one existing line stays as it was.
    github.commit_files(
        "feature",
        {
            "app/Dockerfile": SPLIT_APT.replace(
                'CMD ["bash"]', 'RUN apt-get update && apt-get install -y git\nCMD ["bash"]'
            ),
            "README.md": "# shop\nmore\n",
        },
        "add git",
    )
    number = github.open_pull_from("feature", head_repo=head_repo)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": number}}))
    return number, event


# -- check mode and the entry point ----------------------------------------------------
def test_check_mode_writes_sarif_and_fails_on_findings_when_asked(github, tmp_path, monkeypatch):
    work = checkout(github, tmp_path)
    code, out, outputs, summary = run_action(
        github,
        work,
        tmp_path,
        monkeypatch,
        mode="check",
        sarif_file=str(tmp_path / "out.sarif"),
        fail_on_findings="true",
    )
    assert code == 1 and int(outputs["findings"]) > 0
    assert json.loads((tmp_path / "out.sarif").read_text())["version"] == "2.1.0"
    assert "::warning file=app/Dockerfile" in out and not github.writes


def test_entry_point_runs_as_a_program(github, tmp_path):
    work = checkout(github, tmp_path)
    env = {
        **os.environ,
        "GITHUB_WORKSPACE": str(work),
        "GITHUB_REPOSITORY": "acme/shop",
        "GITHUB_API_URL": github.url,
        "GITHUB_OUTPUT": str(tmp_path / "o.txt"),
        "INPUT_TOKEN": TOKEN,
        "INPUT_MODE": "pull-request",
        "HARDENER_OFFLINE": "1",
        "HARDENER_CACHE_DIR": str(tmp_path / "c"),
        "HARDENER_GITHUB_THROTTLE": "0",
    }
    result = subprocess.run(
        [sys.executable, "-m", "hardener.github.action"], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert parse_outputs((tmp_path / "o.txt").read_text())["pr-number"]


def test_bad_inputs_are_reported(tmp_path, monkeypatch):
    out = io.StringIO()
    assert action.main(env={"INPUT_MODE": "deploy", "GITHUB_WORKSPACE": str(tmp_path)}, out=out) == 2
    assert "mode must be one of pull-request, review, check" in out.getvalue()
