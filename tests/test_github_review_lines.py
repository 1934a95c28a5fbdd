"""Review suggestions: lines mapped exactly or dropped, per-fix regions, the fork fallback's output, old comments."""

import io

import pytest

from hardener import fix_text
from hardener.config import Config
from hardener.github.review import Suggestion, line_map, suggestions_for
from hardener.model import AppliedFix, Edit, Tier
from hardener.reporters.github import ANNOTATIONS_PER_LEVEL, suggestion_annotations, suggestions_summary

from .fake_github import FakeGitHub
from .test_github_action import COMPOSE, SPLIT_APT, checkout, open_contributor_pull, run_action

GIT = "RUN apt-get update && apt-get install -y git"
HEAD = f'FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl\n{GIT}\nCMD ["bash"]\n'


def cache_fixes(text):
    return [a for a in fix_text(text, "Dockerfile", Config(select=("HD104",))).applied]


def test_lines_of_a_merge_checkout_map_to_the_heads_lines():
    merged = "# syntax=docker/dockerfile:1\n" + HEAD
    to_head = line_map(merged, HEAD)
    assert [to_head(n) for n in range(1, 7)] == [None, 1, 2, 3, 4, 5]
    [suggestion] = suggestions_for("Dockerfile", merged, cache_fixes(merged), {4}, to_head)[0]
    assert (suggestion.start_line, suggestion.line) == (4, 4)
    assert suggestion.replacement == f"{GIT} && rm -rf /var/lib/apt/lists/*"


def test_a_suggestion_whose_line_does_not_map_exactly_is_dropped_never_moved():
    # Main changed the contributor's line in the merge: the checkout's line 4 is not the head's.
    merged = HEAD.replace("-y git", "-y git-core")
    to_head = line_map(merged, HEAD)
    assert to_head(4) is None
    made, _ = suggestions_for("Dockerfile", merged, cache_fixes(merged), {4}, to_head)
    assert made == []


def test_a_fix_that_removes_lines_suggests_an_empty_block():
    text = 'FROM debian:12\nRUN true\nCMD ["bash"]\n'
    removal = AppliedFix("HD999", "drop-line", Tier.SAFE, "removed the line", 2, edits=(Edit(15, 24, ""),))
    [suggestion] = suggestions_for("Dockerfile", text, [removal], {2})[0]
    assert suggestion.removes and suggestion.comment()["body"].endswith("```suggestion\n```")
    assert suggestion.diff() == "@@ -2,1 +2,0 @@\n-RUN true"


def test_fixes_without_edits_of_their_own_are_returned_not_guessed():
    text = "FROM debian:12\nRUN true\n"
    built_on = AppliedFix("HD999", "x", Tier.SAFE, "changed what another fix wrote", 2)
    made, skipped = suggestions_for("Dockerfile", text, [built_on], {2})
    assert made == [] and skipped == [built_on]


def test_two_identical_suggestions_in_one_file_have_distinct_keys():
    text = HEAD + GIT + "\n"
    made, _ = suggestions_for("Dockerfile", text, cache_fixes(text), {4, 6})
    assert len(made) == 2 and made[0].replacement == made[1].replacement
    assert made[0].key != made[1].key and made[1].key.startswith(made[0].key)


# -- the fork fallback's annotations and summary --------------------------------------------------------
def suggestion(n, replacement="RUN true", path="app/Dockerfile"):
    return Suggestion(path, n, n, replacement, "**HD104 x** (safe): why", replaced="RUN x", rules=("HD104",))


def test_suggestion_annotations_stop_at_githubs_limit_and_log_the_rest():
    out = io.StringIO()
    suggestion_annotations([suggestion(n) for n in range(1, 13)], out)
    lines = out.getvalue().splitlines()
    assert sum(line.startswith("::notice file=") for line in lines) == ANNOTATIONS_PER_LEVEL
    assert "::notice::2 more suggestions not shown as annotations" in out.getvalue()
    assert lines[-1] == "  suggestion app/Dockerfile:12-12 (HD104): RUN true"


def test_suggestions_summary_escapes_what_comes_from_files_and_stays_under_the_limit():
    tricky = suggestion(3, replacement="RUN echo '```'\n::error::x", path="a\n# b`c/Dockerfile")
    text = suggestions_summary([tricky], "Not posted: <b>read-only</b>")
    assert "\n````diff\n@@ -3,1 +3,2 @@\n-RUN x\n+RUN echo '```'\n+::error::x\n````\n" in text
    assert "\n``a\\x0a# b`c/Dockerfile`` line 3:\n" in text and "\\<b\\>read-only\\</b\\>" in text
    many = suggestions_summary([suggestion(n) for n in range(1, 200)], "note", limit=2000)
    assert len(many.encode()) <= 2000 and "more suggestions not shown" in many


# -- comments from before keys, and comments that are not hardener's -----------------------------------
@pytest.fixture
def github(tmp_path):
    fake = FakeGitHub(tmp_path, files={"app/Dockerfile": SPLIT_APT, "compose.yaml": COMPOSE})
    yield fake
    fake.stop()


def test_comments_without_keys_are_tidied_once_and_peoples_comments_never(github, tmp_path, monkeypatch):
    number, event = open_contributor_pull(github, tmp_path)
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    work = checkout(github, tmp_path, "feature")
    assert run_action(github, work, tmp_path, monkeypatch, mode="review", select="HD104")[0] == 0
    [comment] = github.review_comments
    # As an older hardener wrote it: no key in the comment; and a person posts a look-alike.
    comment["body"] = "\n".join(line for line in comment["body"].split("\n") if "hardener:suggestion" not in line)
    github.reply(comment["id"], "thanks")
    lookalike = {
        **comment,
        "id": 9999,
        "review": None,
        "user": "mallory",
        "body": "<!-- hardener:suggestion " + "0" * 16 + " -->",
    }
    github.review_comments.append(lookalike)
    assert run_action(github, work, tmp_path, monkeypatch, mode="review", select="HD104")[0] == 0
    bodies = {c["id"]: c["body"] for c in github.review_comments}
    assert bodies[comment["id"]].startswith("<!-- hardener:outdated v1 -->\n**No longer suggested**")
    assert bodies[9999] == lookalike["body"], "a comment hardener did not post is never touched"
    assert len(github.reviews) == 2, "the suggestion is posted again, with its key"
    writes = len(github.writes)
    assert run_action(github, work, tmp_path, monkeypatch, mode="review", select="HD104")[0] == 0
    assert len(github.writes) == writes, "an outdated comment is marked once"
    assert any(c["body"] == "thanks" for c in github.review_comments), "the reply stays"
