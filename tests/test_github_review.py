"""Review mode end to end: suggestions on an incoming pull request, against the fake GitHub over real HTTP."""

import json
import subprocess

import pytest

from hardener import fix_text
from hardener.config import Config
from hardener.textedit import apply_edits

from .fake_github import FakeGitHub
from .test_github_action import COMPOSE, SPLIT_APT, checkout, open_contributor_pull, run_action

CONTRIBUTED = "RUN apt-get update && apt-get install -y git"


@pytest.fixture
def github(tmp_path):
    fake = FakeGitHub(tmp_path, files={"app/Dockerfile": SPLIT_APT, "compose.yaml": COMPOSE, "README.md": "# shop\n"})
    yield fake
    fake.stop()


def bot_comments(github, review=None):
    return [
        c
        for c in github.review_comments
        if c["user"] == "github-actions[bot]" and (review is None or c["review"] == review["id"])
    ]


def apply_comment(text: str, comment: dict) -> str:
    """What accepting a suggestion does to the file: its lines replaced by the block's text."""
    lines = text.split("\n")[:-1]
    body = comment["body"]
    fence_start = body.index("suggestion\n") + len("suggestion\n")
    replacement = body[fence_start : body.rindex("\n")]
    first = comment.get("start_line") or comment["line"]
    return "\n".join(lines[: first - 1] + replacement.split("\n") + lines[comment["line"] :]) + "\n"


def merge_workspace(github, tmp_path, number):
    """The workspace actions/checkout makes on a pull_request event: the merge commit refs/pull/N/merge."""
    sha = github.merge_checkout(number)
    work = tmp_path / "work-merge"
    subprocess.run(["git", "clone", "-q", str(github.git_dir), str(work)], check=True)
    subprocess.run(["git", "-C", str(work), "fetch", "-q", "origin", f"refs/pull/{number}/merge"], check=True)
    subprocess.run(["git", "-C", str(work), "checkout", "-q", sha], check=True)
    return work


def test_review_posts_suggestions_only_on_changed_lines(github, tmp_path, monkeypatch):
    number, event = open_contributor_pull(github, tmp_path)
    work = checkout(github, tmp_path, "feature")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    code, out, _, _ = run_action(github, work, tmp_path, monkeypatch, mode="review", select="HD103,HD104")
    assert code == 0, out
    [review] = github.reviews
    comments = bot_comments(github, review)
    assert comments and all(c["path"] == "app/Dockerfile" for c in comments)
    # Only line 4 (added by the pull request) gets a suggestion; lines 2-3 were already there.
    assert [(c.get("start_line"), c["line"]) for c in comments] == [(None, 4)]
    assert (
        "```suggestion\nRUN apt-get update && apt-get install -y git && rm -rf /var/lib/apt/lists/*\n```"
        in comments[0]["body"]
    )
    assert review["commit_id"] == github.ref("feature")
    # A second run finds the same suggestions: nothing is written at all.
    writes = len(github.writes)
    code, out, _, _ = run_action(github, work, tmp_path, monkeypatch, mode="review", select="HD103,HD104")
    assert code == 0 and len(github.writes) == writes, github.writes[writes:]
    assert len(github.reviews) == 1 and len(github.review_comments) == 1


# -- 1. the right line of the right commit ----------------------------------------------------------------
def test_a_merge_checkout_puts_suggestions_on_the_heads_lines(github, tmp_path, monkeypatch):
    number, event = open_contributor_pull(github, tmp_path)
    head_sha = github.ref("feature")
    # After the pull request was opened, main gains lines at the top of the same Dockerfile.
    github.commit_files(
        "main", {"app/Dockerfile": "# syntax=docker/dockerfile:1\n# Built by CI.\n" + SPLIT_APT}, "document"
    )
    work = merge_workspace(github, tmp_path, number)
    assert (work / "app/Dockerfile").read_text().startswith("# syntax"), "the checkout is the merge"
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    code, out, _, _ = run_action(github, work, tmp_path, monkeypatch, mode="review", unsafe_fixes="true")
    assert code == 0, out
    [review] = github.reviews
    assert review["commit_id"] == head_sha
    [comment] = bot_comments(github, review)
    assert comment["commit_id"] == head_sha and comment["line"] == 4 and not comment.get("start_line")
    # Accepting it gives the head file with exactly the fixes on the contributor's line, and keeps FROM.
    head = github.read("feature", "app/Dockerfile")
    fixed = fix_text(head, "Dockerfile", Config(unsafe_fixes=True))
    on_line_4 = [a for a in fixed.applied if a.edits and head[: a.edits[0].start].count("\n") in (3, 4)]
    expected = apply_edits(head, [e for a in on_line_4 for e in a.edits])
    assert apply_comment(head, comment) == expected
    assert expected.startswith("FROM debian:12\n") and "rm -rf /var/lib/apt/lists/*\nRUN groupadd" in expected
    # Both fixes on that line are in one suggestion, each with its reason.
    assert "**HD104 package-cache-left-in-layer**" in comment["body"] and "**HD101 root-user**" in comment["body"]


def test_the_review_is_anchored_on_the_head_the_run_read_when_the_branch_moves_meanwhile(github, tmp_path, monkeypatch):
    number, event = open_contributor_pull(github, tmp_path)
    read_head = github.ref("feature")
    work = checkout(github, tmp_path, "feature")
    # The contributor pushes again while the job runs: GitHub would put a review with no commit_id on the new
    # head, whose lines the suggestions were not made for.
    github.on("POST", r"/pulls/\d+/reviews$", lambda: github.commit_files("feature", {"NOTES.md": "later\n"}, "notes"))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    code, out, _, _ = run_action(github, work, tmp_path, monkeypatch, mode="review", select="HD103,HD104")
    assert code == 0, out
    assert github.ref("feature") != read_head, "the branch moved during the run"
    [review] = github.reviews
    assert review["commit_id"] == read_head
    assert [c["commit_id"] for c in bot_comments(github, review)] == [read_head]


def test_a_thread_someone_answered_stays_when_its_lines_shift(github, tmp_path, monkeypatch):
    number, event = open_contributor_pull(github, tmp_path)
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    work = checkout(github, tmp_path, "feature")
    assert run_action(github, work, tmp_path, monkeypatch, mode="review", select="HD103,HD104")[0] == 0
    [first] = bot_comments(github)
    github.reply(first["id"], "Why remove the lists here?")
    # A line above moves the suggestion down one line; the suggestion itself is the same.
    head = github.read("feature", "app/Dockerfile")
    github.commit_files(
        "feature", {"app/Dockerfile": head.replace("FROM debian:12\n", "FROM debian:12\nENV A=1\n")}, "env"
    )
    work = checkout(github, tmp_path, "feature")
    code, out, _, _ = run_action(github, work, tmp_path, monkeypatch, mode="review", select="HD103,HD104")
    assert code == 0, out
    kept = {c["id"]: c for c in github.review_comments}
    assert kept[first["id"]]["body"] == first["body"], "the answered thread is neither deleted nor posted again"
    assert len(github.reviews) == 1 and len(bot_comments(github)) == 1


# -- 2. one suggestion per fix ------------------------------------------------------------------------------
def test_a_fix_on_an_adjacent_existing_line_does_not_hide_the_contributors_suggestion(github, tmp_path, monkeypatch):
    # With every HD1 rule, lines 2-3 get fixes too (merge the update, clean the cache): their change
    # touches line 4's neighbour, and a diff of the whole file makes one hunk of lines 2-4.
    number, event = open_contributor_pull(github, tmp_path)
    work = checkout(github, tmp_path, "feature")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    code, out, _, _ = run_action(github, work, tmp_path, monkeypatch, mode="review", select="HD1")
    assert code == 0, out
    [comment] = bot_comments(github)
    assert (comment.get("start_line"), comment["line"]) == (None, 4)
    assert f"suggestion\n{CONTRIBUTED} && rm -rf /var/lib/apt/lists/*\n" in comment["body"]
    assert comment["body"].startswith("**HD104 package-cache-left-in-layer** (safe): ")
    assert "HD102" not in comment["body"], "the reason is this fix's own, not a neighbour's"


def test_an_insertion_attaches_to_a_changed_neighbour_below_when_the_line_above_is_not_changed(
    github, tmp_path, monkeypatch
):
    # The contributor changes only CMD; the user is created just above it, on an untouched line's edge.
    github.commit_files("feature", {"app/Dockerfile": SPLIT_APT.replace('CMD ["bash"]', 'CMD ["sh"]')}, "sh")
    number = github.open_pull_from("feature")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": number}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    work = checkout(github, tmp_path, "feature")
    code, out, _, _ = run_action(
        github, work, tmp_path, monkeypatch, mode="review", select="HD101", unsafe_fixes="true"
    )
    assert code == 0, out
    [comment] = bot_comments(github)
    assert (comment.get("start_line"), comment["line"]) == (None, 4)
    assert "suggestion\nRUN groupadd" in comment["body"] and comment["body"].endswith(
        'USER 10001:10001\nCMD ["sh"]\n```'
    )
    head = github.read("feature", "app/Dockerfile")
    assert (
        apply_comment(head, comment) == fix_text(head, "Dockerfile", Config(unsafe_fixes=True, select=("HD101",))).fixed
    )


# -- 3. threads are kept, only what is new is posted --------------------------------------------------------
def test_reruns_keep_threads_and_post_only_new_suggestions(github, tmp_path, monkeypatch):
    lines = [f"RUN apt-get update && apt-get install -y {tool}" for tool in ("git", "make", "wget")]
    github.commit_files(
        "feature", {"app/Dockerfile": SPLIT_APT.replace('CMD ["bash"]', "\n".join(lines) + '\nCMD ["bash"]')}, "tools"
    )
    number = github.open_pull_from("feature")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": number}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    work = checkout(github, tmp_path, "feature")
    assert run_action(github, work, tmp_path, monkeypatch, mode="review", select="HD104")[0] == 0
    first = {c["body"].split("-y ")[1].split(" ")[0]: dict(c) for c in bot_comments(github)}
    assert sorted(first) == ["git", "make", "wget"]
    github.reply(first["git"]["id"], "We need the cache here, see the build docs.")

    # The contributor changes the git line and drops wget, adds curl at the top: make's line shifts down.
    lines = [
        "RUN apt-get update && apt-get install -y curl",
        "RUN apt-get update && apt-get install -y git-lfs",
        lines[1],
    ]
    github.commit_files(
        "feature", {"app/Dockerfile": SPLIT_APT.replace('CMD ["bash"]', "\n".join(lines) + '\nCMD ["bash"]')}, "more"
    )
    work = checkout(github, tmp_path, "feature")
    code, out, _, _ = run_action(github, work, tmp_path, monkeypatch, mode="review", select="HD104")
    assert code == 0, out
    by_id = {c["id"]: c for c in github.review_comments}
    # Unchanged suggestion: the same comment, untouched, though its line moved.
    assert by_id[first["make"]["id"]]["body"] == first["make"]["body"]
    # Answered and no longer suggested: kept, said to be outdated, its text still there, nothing to apply.
    answered = by_id[first["git"]["id"]]["body"]
    marker, text = answered.split("\n", 1)
    assert marker.startswith("<!-- hardener:outdated ") and text.startswith("**No longer suggested**")
    assert "install -y git && rm -rf" in answered
    assert "suggestion\n" not in answered
    # Unanswered and no longer suggested: removed.
    assert first["wget"]["id"] not in by_id
    # New suggestions: one new review, anchored on the head.
    assert len(github.reviews) == 2 and github.reviews[-1]["commit_id"] == github.ref("feature")
    new = bot_comments(github, github.reviews[-1])
    assert sorted(c["line"] for c in new) == [4, 5]
    assert any(c["body"].startswith("We need the cache") for c in github.review_comments)

    # Nothing new: no write at all.
    writes = len(github.writes)
    assert run_action(github, work, tmp_path, monkeypatch, mode="review", select="HD104")[0] == 0
    assert len(github.writes) == writes, github.writes[writes:]


# -- 4. forks ---------------------------------------------------------------------------------------------
def test_review_from_a_fork_shows_the_suggestions_in_the_summary_and_annotations(github, tmp_path, monkeypatch):
    number, event = open_contributor_pull(github, tmp_path, head_repo="stranger/shop")
    work = checkout(github, tmp_path, "feature")
    github.read_only = True
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    # HD10x: the rules of the Dockerfile's own lines; the apt rules (HD116, HD117) would also report the
    # install the contributor wrote, which is not what this test is about.
    code, out, _, summary = run_action(github, work, tmp_path, monkeypatch, mode="review", select="HD10")
    assert code == 0
    assert "could not post a review" in out and not github.reviews
    assert f"```diff\n@@ -4,1 +4,1 @@\n-{CONTRIBUTED}\n+{CONTRIBUTED} && rm -rf /var/lib/apt/lists/*\n```" in summary
    annotations = [line for line in out.splitlines() if line.startswith(("::notice file=", "::warning file="))]
    assert annotations == [
        "::notice file=app/Dockerfile,line=4,endLine=4,title=HD104 suggestion::hardener suggests (HD104):"
        f"%0A{CONTRIBUTED} && rm -rf /var/lib/apt/lists/*"
    ], "only the pull request's line, never lines 2-3 it did not touch"


# -- 5. filter-mode and fail-on-findings --------------------------------------------------------------------
def clean_line_pull(github, tmp_path, monkeypatch):
    # The contributor adds a harmless line to a Dockerfile that has problems on lines it did not touch.
    github.commit_files(
        "feature", {"app/Dockerfile": SPLIT_APT.replace('CMD ["bash"]', 'EXPOSE 8080\nCMD ["bash"]')}, "port"
    )
    number = github.open_pull_from("feature")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": number}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    return checkout(github, tmp_path, "feature")


def test_fail_on_findings_counts_only_the_lines_the_pull_request_added(github, tmp_path, monkeypatch):
    work = clean_line_pull(github, tmp_path, monkeypatch)
    # The apt rules (HD116, HD117) report the base's RUN as one instruction whose lines reach the
    # contributor's; this test is about the lines the rules of each line report.
    code, out, outputs, _ = run_action(
        github, work, tmp_path, monkeypatch, mode="review", fail_on_findings="true", ignore="HD116,HD117"
    )
    assert code == 0, out
    assert outputs["findings"] == "0"
    assert not [line for line in out.splitlines() if line.startswith(("::warning file=", "::error file="))]


def test_filter_mode_file_counts_the_whole_changed_file(github, tmp_path, monkeypatch):
    work = clean_line_pull(github, tmp_path, monkeypatch)
    code, out, outputs, _ = run_action(
        github, work, tmp_path, monkeypatch, mode="review", fail_on_findings="true", filter_mode="file"
    )
    assert code == 1, out
    assert int(outputs["findings"]) > 0 and "::warning file=app/Dockerfile" in out
    # Suggestions stay on the lines the pull request changed: there are none to make here.
    assert not bot_comments(github)
