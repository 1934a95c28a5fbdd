"""Pull-request mode against what people and GitHub do meanwhile: pushes to the base branch after the
checkout, a maintainer who closes the pull request or commits to its branch, two runs at once, an
organisation's central workflow. Real PyGithub over HTTP against the fake GitHub (tests/fake_github.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from hardener.github import pr
from hardener.github.action import make_github
from hardener.github.pr import TRAILER, sync_pull_request

from .fake_github import FakeGitHub
from .test_github_action import COMPOSE, SPLIT_APT, checkout, run_action

ROOT = Path(__file__).resolve().parent.parent
BOT = "github-actions[bot]"
# The fix merges lines 2 and 3; lines 5 on are far enough from it for a teammate to change.
LONG_APT = (
    "FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl\nWORKDIR /app\n"
    'COPY . .\nENV MODE=prod\nCMD ["bash"]\n'
)


@pytest.fixture
def github(tmp_path):
    fake = FakeGitHub(tmp_path, files={"app/Dockerfile": LONG_APT, "compose.yaml": COMPOSE, "README.md": "# shop\n"})
    yield fake
    fake.stop()


def bot_pulls(fake, state=None):
    return [p for p in fake.pulls.values() if p["user"] == BOT and (state is None or p["state"] == state)]


def parents(fake, sha):
    return fake._git("rev-list", "--parents", "-n", "1", sha).split()[1:]


def bot_commit_on(fake, parent, files, message=f"Harden container definitions\n\n{TRAILER}"):
    """A commit like one another run of hardener made (through the fake's plumbing, not the API)."""
    tree = fake._tree(
        fake._git("rev-parse", f"{parent}^{{tree}}"),
        [{"path": p, "mode": "100644", "content": c} for p, c in files.items()],
    )
    return fake._git("commit-tree", tree, "-p", parent, input=message)


# -- 1. never revert a teammate's change --------------------------------------------------------
def test_a_teammates_push_to_the_same_file_after_the_checkout_is_kept(github, tmp_path, monkeypatch):
    work = checkout(github, tmp_path)
    teammate = LONG_APT.replace("ENV MODE=prod", "ENV MODE=staging")
    github.commit_files("main", {"app/Dockerfile": teammate}, "staging mode")
    code, out, outputs, _ = run_action(github, work, tmp_path, monkeypatch)
    assert code == 0, out
    fixed = github.read("hardener/harden", "app/Dockerfile")
    assert "ENV MODE=staging" in fixed, "the teammate's change is kept"
    assert fixed.startswith("FROM debian:12\nRUN apt-get update && \\\n"), "and the fix is applied"
    assert parents(github, github.ref("hardener/harden")) == [github.ref("main")]
    assert github.changed_files("main", "hardener/harden") == ["app/Dockerfile", "compose.yaml"]
    assert outputs["operation"] == "created"


def test_a_teammates_change_next_to_a_fix_leaves_that_file_out_and_says_so(github, tmp_path, monkeypatch):
    work = checkout(github, tmp_path)
    # Next to the line the fix adds under `image:`: the merge cannot place the fix with certainty.
    teammate = COMPOSE + "    ports:\n      - 8080:80\n"
    github.commit_files("main", {"compose.yaml": teammate}, "publish a port")
    code, out, outputs, _ = run_action(github, work, tmp_path, monkeypatch)
    assert code == 0, out
    assert github.read("hardener/harden", "compose.yaml") == teammate, "never written over"
    assert github.changed_files("main", "hardener/harden") == ["app/Dockerfile"]
    assert "::notice::hardener: left compose.yaml out of this commit: the base branch changed it" in out
    assert outputs["changed-files"] == "app/Dockerfile"
    body = bot_pulls(github)[0]["body"]
    assert "### Left out of this commit" in body and "- `compose.yaml`: the base branch changed it" in body
    assert "| `compose.yaml` |" not in body, "the table lists only what the commit holds"


def test_a_file_the_base_deleted_after_the_checkout_is_not_brought_back(github, tmp_path, monkeypatch):
    work = checkout(github, tmp_path)
    tree = github._tree(github._git("rev-parse", "main^{tree}"), [{"path": "compose.yaml", "sha": None}])
    github._git("update-ref", "refs/heads/main", github._git("commit-tree", tree, "-p", "main", input="drop compose"))
    code, out, _, _ = run_action(github, work, tmp_path, monkeypatch)
    assert code == 0, out
    assert github.changed_files("main", "hardener/harden") == ["app/Dockerfile"]
    assert "left compose.yaml out of this commit: the base branch deleted or moved it" in out


def test_a_merged_file_the_fixers_own_checks_refuse_is_left_out(tmp_path, monkeypatch):
    original = (
        "FROM debian:12\nWORKDIR /app\nCOPY . .\nRUN apt-get update\nRUN apt-get install -y curl\n"
        'ENV MODE=prod\nCMD ["bash"]\n'
    )
    fake = FakeGitHub(tmp_path, files={"Dockerfile": original})
    try:
        work = checkout(fake, tmp_path)
        # Changes away from the fixed lines, but they turn those lines into a heredoc's body: the
        # lines merge, and the fixer's check that no heredoc body changed refuses the result.
        theirs = original.replace("WORKDIR /app", "RUN <<EOF").replace("ENV MODE=prod\n", "ENV MODE=prod\nEOF\n")
        fake.commit_files("main", {"Dockerfile": theirs}, "a heredoc")
        code, out, outputs, _ = run_action(fake, work, tmp_path, monkeypatch)
        assert code == 0, out
        assert (
            "left Dockerfile out of this commit: the base branch changed it since the checkout, and the "
            "merged file fails: a heredoc body changed" in out
        )
        assert fake.ref("hardener/harden") is None and outputs["operation"] == "none"
    finally:
        fake.stop()


def test_a_base_branch_read_that_lags_the_checkout_is_not_built_on(github, tmp_path, monkeypatch):
    old = github.ref("main")
    github.commit_files("main", {"worker/Dockerfile": "FROM alpine:3.20\nRUN apk add curl\n"}, "add a worker")
    work = checkout(github, tmp_path)
    # GitHub still answers the ref from before the push the workflow checked out.
    github.stale_ref_reads["main"] = [old, old]
    code, out, _, _ = run_action(github, work, tmp_path, monkeypatch)
    assert code == 0, out
    assert parents(github, github.ref("hardener/harden")) == [github.ref("main")]
    assert "worker/Dockerfile" in github.changed_files("main", "hardener/harden")


# -- 2. the repository input and the organisation example ------------------------------------------
def test_the_organisation_example_opens_each_pull_request_in_its_target_repository(tmp_path, monkeypatch):
    workflow = yaml.safe_load((ROOT / "examples/workflows/harden-organisation.yml").read_text())
    job = workflow["jobs"]["harden"]
    assert "${{ matrix.repository }}" in json.dumps(job["concurrency"])
    step = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("hardener/hardener"))
    central = FakeGitHub(tmp_path, "acme", ".github", files={"README.md": "# org\n"})
    try:
        targets = {}
        for name in job["strategy"]["matrix"]["repository"]:
            owner, repo = name.split("/")
            targets[name] = central.add_repository(tmp_path, owner, repo, files={"Dockerfile": SPLIT_APT})
        for name, target in targets.items():
            inputs = {
                key.replace("-", "_"): str(value).replace("${{ matrix.repository }}", name)
                for key, value in step["with"].items()
                if "steps.app-token" not in str(value)
            }
            work = checkout(target, tmp_path / name.replace("/", "-"))
            # The workflow runs in acme/.github (GITHUB_REPOSITORY), over a checkout of the target.
            code, out, outputs, _ = run_action(central, work, tmp_path, monkeypatch, **inputs)
            assert code == 0, out
            assert outputs["pr-url"] == f"https://github.test/{name}/pull/{outputs['pr-number']}"
            assert f"opened pull request {name}#" in out
            assert [p["head"] for p in target.pulls.values()] == ["hardener/harden"]
            assert target.ref("hardener/harden")
        assert not central.pulls and central.ref("hardener/harden") is None
    finally:
        central.stop()


# -- 3. a closed pull request means no ------------------------------------------------------------
def test_a_pull_request_closed_unmerged_is_not_opened_again(github, tmp_path, monkeypatch):
    work = checkout(github, tmp_path)
    number = int(run_action(github, work, tmp_path, monkeypatch)[2]["pr-number"])
    github.close_pull(number)
    code, out, outputs, _ = run_action(github, work, tmp_path, monkeypatch)
    assert code == 0, out
    assert outputs["operation"] == "none" and outputs["pr-number"] == str(number)
    assert outputs["head-sha"] == github.ref("hardener/harden"), "the branch stays, so the pull request can reopen"
    [comment] = github.comments
    assert comment["issue"] == number and "will not open these fixes again" in comment["body"]
    assert "reopen this pull request" in comment["body"] and "rename this pull request's title" in comment["body"]
    writes = len(github.writes)
    for _ in range(2):
        code, out, outputs, _ = run_action(github, work, tmp_path, monkeypatch)
        assert code == 0 and outputs["operation"] == "none"
    assert len(github.writes) == writes, "quiet until the fixes change"
    assert len(bot_pulls(github)) == 1


def test_a_new_kind_of_fix_after_a_closed_pull_request_opens_a_new_one(github, tmp_path, monkeypatch):
    work = checkout(github, tmp_path)
    number = int(run_action(github, work, tmp_path, monkeypatch)[2]["pr-number"])
    github.close_pull(number)
    run_action(github, work, tmp_path, monkeypatch)
    github.commit_files("main", {"worker/Dockerfile": "FROM alpine:3.20\nRUN apk add curl\n"}, "add a worker")
    work = checkout(github, tmp_path)
    code, out, outputs, _ = run_action(github, work, tmp_path, monkeypatch)
    assert code == 0, out
    assert outputs["operation"] == "created" and int(outputs["pr-number"]) != number
    assert "worker/Dockerfile" in github.changed_files("main", "hardener/harden")


def test_renaming_a_closed_pull_request_lets_the_bot_open_a_fresh_one(github, tmp_path, monkeypatch):
    work = checkout(github, tmp_path)
    number = int(run_action(github, work, tmp_path, monkeypatch)[2]["pr-number"])
    github.close_pull(number)
    run_action(github, work, tmp_path, monkeypatch)
    github.pulls[number]["title"] = "Not now"
    code, out, outputs, _ = run_action(github, work, tmp_path, monkeypatch)
    assert code == 0 and outputs["operation"] == "created" and int(outputs["pr-number"]) != number


def test_a_reopened_pull_request_is_kept_up_to_date(github, tmp_path, monkeypatch):
    work = checkout(github, tmp_path)
    number = int(run_action(github, work, tmp_path, monkeypatch)[2]["pr-number"])
    github.close_pull(number)
    run_action(github, work, tmp_path, monkeypatch)
    github.pulls[number]["state"] = "open"  # the maintainer reopens it
    github.commit_files("main", {"worker/Dockerfile": "FROM alpine:3.20\nRUN apk add curl\n"}, "add a worker")
    work = checkout(github, tmp_path)
    code, out, outputs, _ = run_action(github, work, tmp_path, monkeypatch)
    assert code == 0, out
    assert outputs["operation"] == "updated" and outputs["pr-number"] == str(number)
    assert len(bot_pulls(github)) == 1 and "worker/Dockerfile" in github.pulls[number]["body"]
    assert outputs["head-sha"] == github.ref("hardener/harden")


def test_a_merged_pull_request_is_never_a_no(github, tmp_path, monkeypatch):
    work = checkout(github, tmp_path)
    number = int(run_action(github, work, tmp_path, monkeypatch)[2]["pr-number"])
    github.merge_pull(number)
    # The same kind of fix turns up again in a new file.
    github.commit_files("main", {"app/Dockerfile": LONG_APT}, "undo by hand")
    work = checkout(github, tmp_path)
    code, out, outputs, _ = run_action(github, work, tmp_path, monkeypatch)
    assert code == 0, out
    assert outputs["operation"] == "created" and not github.comments


# -- 4. a maintainer's commit on the bot branch -------------------------------------------------
def test_the_update_branch_merge_is_recognised_and_rebuilt_on(github, tmp_path, monkeypatch):
    work = checkout(github, tmp_path)
    number = int(run_action(github, work, tmp_path, monkeypatch)[2]["pr-number"])
    github.commit_files("main", {"README.md": "# shop\nmore\n"}, "docs")
    merge = github.update_branch(number)
    work = checkout(github, tmp_path)
    code, out, outputs, _ = run_action(github, work, tmp_path, monkeypatch)
    assert code == 0, out
    head = github.ref("hardener/harden")
    assert head != merge and parents(github, head) == [github.ref("main")]
    assert TRAILER in github._git("log", "-1", "--format=%B", head)
    assert outputs["operation"] == "updated" and not github.comments


def test_a_maintainers_commit_stops_updates_and_says_so_once(github, tmp_path, monkeypatch):
    work = checkout(github, tmp_path)
    number = int(run_action(github, work, tmp_path, monkeypatch)[2]["pr-number"])
    theirs = github.commit_files("hardener/harden", {"app/Dockerfile": LONG_APT + "USER app\n"}, "run as app")
    github.commit_files("main", {"worker/Dockerfile": "FROM alpine:3.20\nRUN apk add curl\n"}, "add a worker")
    work = checkout(github, tmp_path)
    for _ in range(2):
        code, out, outputs, _ = run_action(github, work, tmp_path, monkeypatch)
        assert code == 0, out
        assert outputs["operation"] == "none" and outputs["head-sha"] == theirs
        assert "someone else pushed to its branch, so hardener no longer updates it" in out
    [comment] = github.comments
    assert comment["issue"] == number and theirs[:12] in comment["body"]
    assert github.ref("hardener/harden") == theirs and github.pulls[number]["state"] == "open"


# -- 5. racing itself ---------------------------------------------------------------------------------
def repo_of(fake):
    return make_github("token", fake.url).get_repo(f"{fake.owner}/{fake.name}")


def sync(fake, changes, **extra):
    return sync_pull_request(
        repo_of(fake), changes, body="body", title="Harden", branch="hardener/harden", base="main", **extra
    )


FIXED = {"app/Dockerfile": ("FROM debian:12\nUSER app\n", "100644")}


def test_a_branch_another_run_made_with_the_same_content_is_taken_as_is(github, tmp_path):
    other = {}
    github.on("POST", r"/git/refs$", lambda: other.setdefault("outcome", sync(github, FIXED)))
    outcome = sync(github, FIXED)
    assert outcome.head_sha == other["outcome"].head_sha == github.ref("hardener/harden")
    assert len(bot_pulls(github)) == 1 and outcome.number == other["outcome"].number
    assert not github.errors


def test_a_branch_another_run_built_on_a_newer_base_wins(github, tmp_path):
    def newer_run():
        github.commit_files("main", {"README.md": "# shop\nnewer\n"}, "docs")
        sync(github, {"app/Dockerfile": ("FROM debian:12\nUSER newer\n", "100644")})

    github.on("POST", r"/git/refs$", newer_run)
    outcome = sync(github, FIXED)
    assert outcome.operation == "none" and "a newer run updated the branch meanwhile" in outcome.notes[0]
    assert github.read("hardener/harden", "app/Dockerfile") == "FROM debian:12\nUSER newer\n"


def test_a_branch_another_run_built_on_an_older_base_is_updated(github, tmp_path):
    older = github.ref("main")
    github.commit_files("main", {"README.md": "# shop\nnewer\n"}, "docs")
    stale = bot_commit_on(github, older, {"app/Dockerfile": "FROM debian:12\nUSER old\n"})
    github.on("POST", r"/git/refs$", lambda: github._git("update-ref", "refs/heads/hardener/harden", stale))
    outcome = sync(github, FIXED)
    assert outcome.operation == "created"
    assert parents(github, github.ref("hardener/harden")) == [github.ref("main")]
    assert github.read("hardener/harden", "app/Dockerfile") == FIXED["app/Dockerfile"][0]


def test_a_branch_moved_between_reading_and_updating_it_is_reconciled(github, tmp_path):
    sync(github, FIXED)
    newer = {}

    def newer_run():
        github.commit_files("main", {"README.md": "# shop\nnewer\n"}, "docs")
        newer["sha"] = bot_commit_on(github, github.ref("main"), {"app/Dockerfile": "FROM debian:12\nUSER newer\n"})
        github._git("update-ref", "refs/heads/hardener/harden", newer["sha"])

    github.on("POST", r"/git/commits$", newer_run)  # after this run read the branch, before it moves it
    outcome = sync(github, {"app/Dockerfile": ("FROM debian:12\nUSER mine\n", "100644")})
    assert outcome.operation == "none" and github.ref("hardener/harden") == newer["sha"]


def test_the_example_workflows_run_one_job_per_branch_at_a_time():
    for path in sorted((ROOT / "examples/workflows").glob("*.yml")):
        workflow = yaml.safe_load(path.read_text())
        for job in workflow["jobs"].values():
            uses = [s.get("with", {}) for s in job["steps"] if str(s.get("uses", "")).startswith("hardener/")]
            if any(w.get("mode", "pull-request") == "pull-request" for w in uses):
                concurrency = job.get("concurrency") or workflow.get("concurrency")
                assert concurrency and concurrency["cancel-in-progress"] is False, path.name


def test_the_readmes_workflows_are_the_example_files():
    # The README shows examples/workflows/*.yml: the same workflow, comments aside.
    readme = (ROOT / "README.md").read_text()
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", readme, re.S)]
    said_same = re.findall(r"the same file is \[`(examples/workflows/[^`]+)`\]", readme)
    assert said_same
    for name in said_same:
        example = yaml.safe_load((ROOT / name).read_text())
        shown = [b for b in blocks if isinstance(b, dict) and b.get("name") == example["name"]]
        assert shown, f"README shows no workflow named {example['name']}"
        assert shown[0] == example, name


# -- 6. annotations on the checked-out lines ----------------------------------------------------
TWO_STAGES = 'FROM debian:12 AS build\nRUN apt-get update\nRUN apt-get install -y curl\nFROM alpine:3.20\nCMD ["sh"]\n'


def test_annotations_and_sarif_point_at_the_lines_the_workflow_checked_out(tmp_path, monkeypatch):
    fake = FakeGitHub(tmp_path, files={"Dockerfile": TWO_STAGES})
    try:
        work = checkout(fake, tmp_path)
        sarif = tmp_path / "out.sarif"
        code, out, _, _ = run_action(fake, work, tmp_path, monkeypatch, sarif_file=str(sarif))
        assert code == 0, out
        # The fix adds a line above the final stage; its findings stay on line 4 of the checkout.
        assert fake.read("hardener/harden", "Dockerfile").splitlines()[4] == "FROM alpine:3.20"
        root_user = [line for line in out.splitlines() if "HD101" in line]
        assert root_user and all("line=4," in line and "endLine=4," in line for line in root_user), root_user
        lines = {
            r["ruleId"]: r["locations"][0]["physicalLocation"]["region"]["startLine"]
            for r in json.loads(sarif.read_text())["runs"][0]["results"]
        }
        assert lines["HD101"] == 4
    finally:
        fake.stop()


# -- 7. one tree request ------------------------------------------------------------------------------
def test_the_commit_takes_a_constant_number_of_writes_whatever_the_number_of_files(github, tmp_path, monkeypatch):
    github.commit_files("main", {f"svc{n}/Dockerfile": SPLIT_APT for n in range(20)}, "more")
    run_action(github, checkout(github, tmp_path), tmp_path, monkeypatch, labels="security")
    assert len(github.changed_files("main", "hardener/harden")) == 22
    assert sorted(set(github.writes)) == sorted(
        {
            ("POST", "/repos/acme/shop/git/trees"),
            ("POST", "/repos/acme/shop/git/commits"),
            ("POST", "/repos/acme/shop/git/refs"),
            ("POST", "/repos/acme/shop/pulls"),
            ("POST", f"/repos/acme/shop/issues/{bot_pulls(github)[0]['number']}/labels"),
        }
    )
    assert len(github.writes) == 5, "no blob writes: contents go inline in one tree request"


def test_large_commits_chain_their_trees_in_batches(github, tmp_path, monkeypatch):
    monkeypatch.setattr(pr, "TREE_BATCH_ENTRIES", 3)
    changes = {f"svc{n}/Dockerfile": (f"FROM debian:12\nUSER app{n}\n", "100644") for n in range(7)}
    sync(github, changes)
    assert github.writes.count(("POST", "/repos/acme/shop/git/trees")) == 3
    assert sorted(github.changed_files("main", "hardener/harden")) == sorted(changes)
    assert github.read("hardener/harden", "README.md") == "# shop\n"


# -- 9. inputs and outputs -----------------------------------------------------------------------------
def test_draft_reviewers_assignees_and_commit_message(github, tmp_path, monkeypatch):
    code, out, outputs, _ = run_action(
        github,
        checkout(github, tmp_path),
        tmp_path,
        monkeypatch,
        draft="true",
        reviewers="octocat, acme/platform",
        assignees="hubot",
        commit_message="chore: harden containers",
    )
    assert code == 0, out
    pull = github.pulls[int(outputs["pr-number"])]
    assert pull["draft"] is True and pull["reviewers"] == ["octocat"] and pull["team_reviewers"] == ["platform"]
    assert pull["assignees"] == ["hubot"]
    head = github.ref("hardener/harden")
    assert github._git("log", "-1", "--format=%B", head) == f"chore: harden containers\n\n{TRAILER}"
    assert outputs["operation"] == "created" and outputs["head-sha"] == head


def test_labels_are_added_on_update_and_a_maintainers_labels_stay(github, tmp_path, monkeypatch):
    work = checkout(github, tmp_path)
    number = int(run_action(github, work, tmp_path, monkeypatch, labels="security")[2]["pr-number"])
    github.pulls[number]["labels"].append("needs-review")  # a maintainer's label
    code, out, outputs, _ = run_action(github, work, tmp_path, monkeypatch, labels="security, hardening")
    assert code == 0 and outputs["operation"] == "updated"
    assert github.pulls[number]["labels"] == ["hardening", "needs-review", "security"]
    writes = len(github.writes)
    code, out, outputs, _ = run_action(github, work, tmp_path, monkeypatch, labels="security, hardening")
    assert outputs["operation"] == "none" and len(github.writes) == writes


# -- 10. nothing left to fix ------------------------------------------------------------------------
def test_a_merged_pull_requests_branch_is_deleted_when_nothing_is_left(github, tmp_path, monkeypatch):
    work = checkout(github, tmp_path)
    number = int(run_action(github, work, tmp_path, monkeypatch)[2]["pr-number"])
    github.merge_pull(number)  # a repository that keeps merged branches
    assert github.ref("hardener/harden")
    code, out, outputs, _ = run_action(github, checkout(github, tmp_path), tmp_path, monkeypatch)
    assert code == 0, out
    assert github.ref("hardener/harden") is None and outputs["operation"] == "none" and outputs["head-sha"] == ""
    assert not github.comments


def test_a_stale_pull_request_is_closed_with_a_comment_and_its_branch_deleted(github, tmp_path, monkeypatch):
    work = checkout(github, tmp_path)
    number = int(run_action(github, work, tmp_path, monkeypatch)[2]["pr-number"])
    fixed = {p: github.read("hardener/harden", p) for p in ("app/Dockerfile", "compose.yaml")}
    github.commit_files("main", fixed, "fixed by hand")
    code, out, outputs, _ = run_action(github, checkout(github, tmp_path), tmp_path, monkeypatch)
    assert outputs["operation"] == "closed" and outputs["head-sha"] == ""
    assert github.pulls[number]["state"] == "closed" and github.ref("hardener/harden") is None


# -- 11. no writes when nothing changed -----------------------------------------------------------------
def test_no_writes_when_the_base_moved_only_in_other_files(github, tmp_path, monkeypatch):
    work = checkout(github, tmp_path)
    run_action(github, work, tmp_path, monkeypatch, labels="security")
    head = github.ref("hardener/harden")
    github.commit_files("main", {"README.md": "# shop\nmore\n"}, "docs")
    writes = len(github.writes)
    code, out, outputs, _ = run_action(github, checkout(github, tmp_path), tmp_path, monkeypatch, labels="security")
    assert code == 0, out
    assert len(github.writes) == writes and github.ref("hardener/harden") == head
    assert outputs["operation"] == "none" and outputs["head-sha"] == head


def test_a_fixed_file_the_base_changed_is_rebuilt(github, tmp_path, monkeypatch):
    work = checkout(github, tmp_path)
    run_action(github, work, tmp_path, monkeypatch)
    head = github.ref("hardener/harden")
    github.commit_files("main", {"app/Dockerfile": LONG_APT.replace("prod", "staging")}, "staging")
    code, out, outputs, _ = run_action(github, checkout(github, tmp_path), tmp_path, monkeypatch)
    assert code == 0 and outputs["operation"] == "updated" and github.ref("hardener/harden") != head
    assert "ENV MODE=staging" in github.read("hardener/harden", "app/Dockerfile")


# -- 8. the description --------------------------------------------------------------------------------
def test_the_body_says_docker_compose_checked_a_file_only_when_it_did(github, tmp_path, monkeypatch):
    work = checkout(github, tmp_path)
    (work / ".hardener.toml").write_text("compose-check = false\n")
    code, out, outputs, _ = run_action(github, work, tmp_path, monkeypatch)
    assert code == 0, out
    body = github.pulls[int(outputs["pr-number"])]["body"]
    assert "Dockerfiles with BuildKit's parser" in body
    assert "Compose files as YAML (Docker Compose did not check them)" in body
    assert "with Docker Compose" not in body


def test_the_body_does_not_claim_a_compose_check_that_was_skipped(github, tmp_path, monkeypatch):
    # The check is on, but this file names a file outside the repository, so Compose is not run on it.
    github.commit_files(
        "main", {"compose.yaml": "services:\n  web:\n    image: nginx:1.27\n    env_file: ../shared.env\n"}, "env"
    )
    work = checkout(github, tmp_path)
    code, out, outputs, _ = run_action(github, work, tmp_path, monkeypatch)
    assert code == 0, out
    assert "compose.yaml" in github.changed_files("main", "hardener/harden")
    body = github.pulls[int(outputs["pr-number"])]["body"]
    assert "Compose files as YAML (Docker Compose did not check them)" in body
    assert "with Docker Compose" not in body


def test_a_long_table_is_cut_before_the_guidance(tmp_path):
    from hardener.github.body import GITHUB_BODY_LIMIT, render_body
    from hardener.model import AppliedFix, Tier
    from hardener.runner import FileOutcome, RunReport, Target

    outcomes = []
    for n in range(600):
        path = f"services/service-with-a-rather-long-name-{n:04d}/Dockerfile"
        outcome = FileOutcome(Target(path, "dockerfile"), original="FROM a\n", fixed="FROM b\n")
        outcome.applied = [
            AppliedFix("HD102", "package-update-in-own-layer", Tier.SAFE, "merged the update " * 3, 2, path),
            AppliedFix("HD101", "root-user", Tier.BEHAVIOUR_CHANGING, "added a USER", 9, path),
        ]
        outcomes.append(outcome)
    body = render_body(RunReport("fix", files=outcomes))
    assert len(body) <= GITHUB_BODY_LIMIT - 2000
    assert "### Behaviour-changing fixes: what to test" in body and "### Configure or suppress" in body
    assert body.rstrip().endswith("not here.</sub>")
    shown = body.count("\n| `services/")
    assert 0 < shown < 1200
    assert f"_{1200 - shown} more changes not listed here (GitHub's size limit); see the diff._" in body
    assert not re.search(r"_\(truncated\)_", body)


def test_images_left_unpinned_are_listed_for_every_kind_and_examples_name_the_rules_applied():
    from hardener.github.body import render_body
    from hardener.model import AppliedFix, Skip, Tier
    from hardener.runner import FileOutcome, RunReport, Target

    outcome = FileOutcome(Target("start.py", "python"), original="a\n", fixed="b\n")
    outcome.applied = [AppliedFix("HD301", "sdk-missing-no-new-privileges", Tier.SAFE, "added it", 3, "start.py")]
    outcome.skipped = [Skip("the registry could not be reached", 3, "HD306", "start.py")]
    body = render_body(RunReport("fix", files=[outcome]))
    assert "### Images not pinned" in body and "`start.py:3`: the registry could not be reached" in body
    assert 'ignore = ["HD301"]' in body and "# hardener: ignore=HD301 -- why" in body


def test_a_commit_on_the_branch_of_a_closed_pull_request_leaves_the_run_green(github, tmp_path, monkeypatch):
    work = checkout(github, tmp_path)
    number = int(run_action(github, work, tmp_path, monkeypatch)[2]["pr-number"])
    github.commit_files("hardener/harden", {"notes.txt": "mine\n"}, "someone else's work")
    github.close_pull(number)
    before, writes = github.ref("hardener/harden"), len(github.writes)
    code, out, outputs, _ = run_action(github, work, tmp_path, monkeypatch)
    assert code == 0 and outputs["operation"] == "none", out
    assert github.ref("hardener/harden") == before and len(github.writes) == writes


# -- the line merge ------------------------------------------------------------------------------------
def test_the_line_merge_joins_changes_apart_and_refuses_changes_that_touch():
    from hardener.github.merge import merge_lines

    original = "a\nb\nc\nd\ne\n"
    ours = "a\nB\nc\nd\ne\n"
    assert merge_lines(original, ours, "a\nb\nc\nd\nE\n") == "a\nB\nc\nd\nE\n"
    assert merge_lines(original, ours, "a\nb\nC\nd\ne\n") is None, "adjacent lines touch"
    assert merge_lines(original, ours, "a\nb2\nc\nd\ne\n") is None, "the same line"
    assert merge_lines(original, "a\nb\nnew\nc\nd\ne\n", "a\nb\nother\nc\nd\ne\n") is None, (
        "two insertions at one place"
    )
    assert merge_lines("a\r\nb\r\nc\r\nd\r\n", "A\r\nb\r\nc\r\nd\r\n", "a\r\nb\r\nc\r\nD\r\n") == "A\r\nb\r\nc\r\nD\r\n"
    # A last line without a line break does not swallow a line added after it.
    assert merge_lines("a\nb\nc\nd", "A\nb\nc\nd", "a\nb\nc\nd\ne\n") == "A\nb\nc\nd\ne\n"


def test_a_pull_request_hardener_closed_itself_is_not_a_no(github, tmp_path, monkeypatch):
    work = checkout(github, tmp_path)
    number = int(run_action(github, work, tmp_path, monkeypatch)[2]["pr-number"])
    fixed = {p: github.read("hardener/harden", p) for p in ("app/Dockerfile", "compose.yaml")}
    github.commit_files("main", fixed, "fixed by hand")
    assert run_action(github, checkout(github, tmp_path), tmp_path, monkeypatch)[2]["operation"] == "closed"
    github.commit_files("main", {"app/Dockerfile": LONG_APT}, "the old file again")
    code, out, outputs, _ = run_action(github, checkout(github, tmp_path), tmp_path, monkeypatch)
    assert code == 0, out
    assert outputs["operation"] == "created" and int(outputs["pr-number"]) != number
    assert not any("will not open these fixes again" in c["body"] for c in github.comments)
