"""Review mode end to end: suggestions on an incoming pull request, against the fake GitHub over real HTTP."""

import pytest

from .fake_github import FakeGitHub
from .test_github_action import COMPOSE, SPLIT_APT, checkout, open_contributor_pull, run_action


@pytest.fixture
def github(tmp_path):
    fake = FakeGitHub(tmp_path, files={"app/Dockerfile": SPLIT_APT, "compose.yaml": COMPOSE, "README.md": "# shop\n"})
    yield fake
    fake.stop()


def test_review_posts_suggestions_only_on_changed_lines(github, tmp_path, monkeypatch):
    number, event = open_contributor_pull(github, tmp_path)
    work = checkout(github, tmp_path, "feature")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    code, out, _, _ = run_action(github, work, tmp_path, monkeypatch, mode="review", select="HD103,HD104")
    assert code == 0, out
    [review] = github.reviews
    comments = [c for c in github.review_comments if c["review"] == review["id"]]
    assert comments and all(c["path"] == "app/Dockerfile" for c in comments)
    # Only line 4 (added by the pull request) gets a suggestion; lines 2-3 were already there.
    assert [(c.get("start_line"), c["line"]) for c in comments] == [(None, 4)]
    assert (
        "```suggestion\nRUN apt-get update && apt-get install -y git && rm -rf /var/lib/apt/lists/*\n```"
        in comments[0]["body"]
    )
    # A second run finds the same suggestions: no new review, no duplicate comments.
    run_action(github, work, tmp_path, monkeypatch, mode="review", select="HD103,HD104")
    assert len(github.reviews) == 1 and len(github.review_comments) == 1


def test_review_from_a_fork_degrades_to_annotations(github, tmp_path, monkeypatch):
    number, event = open_contributor_pull(github, tmp_path, head_repo="stranger/shop")
    work = checkout(github, tmp_path, "feature")
    github.read_only = True
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    code, out, _, summary = run_action(github, work, tmp_path, monkeypatch, mode="review", select="HD103,HD104")
    assert code == 0
    assert "could not post a review" in out and "::warning file=app/Dockerfile" in out
    assert not github.reviews and "HD104" in summary
