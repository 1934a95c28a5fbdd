"""The Action's own output escapes what comes from the repository, as the reporters do.

File names and file text come from untrusted pull requests: a name may hold a line break, a workflow
command, a terminal escape sequence or bytes that are not UTF-8 (surrogate escapes in Python). The
Action's messages, its outputs (GITHUB_OUTPUT), review suggestions and the commits it makes through the
API are checked here end to end: real PyGithub over HTTP against the fake GitHub.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess

import pytest

from hardener.github.action import Actions, make_github
from hardener.github.pr import sync_pull_request
from hardener.github.review import Suggestion, digest

from .fake_github import FakeGitHub
from .test_github_action import COMPOSE, SPLIT_APT, checkout, parse_outputs, run_action

NOT_UTF8 = os.fsdecode(b"bad\xff")  # a folder name whose bytes are not UTF-8
ESCAPES = "esc\x1b[2J\x1b]0;title\x07"
NEWLINE = "nl\n::error::injected"
COMMANDS = ("::add-mask::", "::error", "::warning", "::notice")


def assert_log_safe(out: str) -> None:
    """What the runner reads: UTF-8, no control characters, no workflow command but hardener's own."""
    out.encode("utf-8")  # strict, as a UTF-8 stdout writes it
    for line in out.splitlines():
        assert all(ch >= " " for ch in line), repr(line)
        assert not line.lstrip().startswith("::") or line.startswith(COMMANDS), line


def tree_paths(fake, branch: str) -> list[bytes]:
    """The paths of a branch's tree as git stores them (bytes, unquoted)."""
    out = subprocess.run(
        ["git", "--git-dir", str(fake.git_dir), "ls-tree", "-r", "-z", "--name-only", branch],
        capture_output=True,
        check=True,
    ).stdout
    return sorted(p for p in out.split(b"\0") if p)


@pytest.fixture
def make_fake(tmp_path):
    fakes = []

    def make(files):
        fake = FakeGitHub(tmp_path, files=files)
        fakes.append(fake)
        return fake

    yield make
    for fake in fakes:
        fake.stop()


# -- messages: ::error and ::notice ------------------------------------------------------
def test_action_messages_show_escapes_and_bytes_that_are_not_utf8():
    out = io.StringIO()
    actions = Actions({}, out)
    actions.error(f"hardener: {ESCAPES}/{NOT_UTF8}\n::warning::forged")
    actions.notice(f"hardener: skipped {NOT_UTF8}\x1b[31m")
    text = out.getvalue()
    assert_log_safe(text)
    assert text.splitlines() == [
        "::error::hardener: esc\\x1b[2J\\x1b]0;title\\x07/bad\\xff%0A::warning::forged",
        "::notice::hardener: skipped bad\\xff\\x1b[31m",
    ]


def test_an_error_naming_an_input_path_is_escaped(make_fake, tmp_path, monkeypatch):
    fake = make_fake({"app/Dockerfile": SPLIT_APT})
    work = checkout(fake, tmp_path)
    name = f"out{ESCAPES}{NOT_UTF8}.sarif"
    os.symlink(tmp_path / "elsewhere.sarif", os.path.join(work, name))
    code, out, _, _ = run_action(fake, work, tmp_path, monkeypatch, mode="check", sarif_file=name)
    assert code == 2
    assert_log_safe(out)
    assert "::error::hardener: outesc\\x1b[2J\\x1b]0;title\\x07bad\\xff.sarif: it is a symbolic link" in out
    assert not (tmp_path / "elsewhere.sarif").exists()


# -- check mode: each error annotated once -------------------------------------------------
def test_check_mode_annotates_each_error_once_whatever_the_file_is_named(make_fake, tmp_path, monkeypatch):
    broken = "FROM\n"  # FROM without an image: a one-line error, exit 2
    fake = make_fake({f"{NOT_UTF8}/Dockerfile": broken, f"{ESCAPES}/Dockerfile": broken, "plain/Dockerfile": broken})
    code, out, _, summary = run_action(fake, checkout(fake, tmp_path), tmp_path, monkeypatch, mode="check")
    assert code == 2
    assert_log_safe(out)
    errors = [line for line in out.splitlines() if "FROM requires an image" in line]
    assert sorted(errors) == [
        "::error file=bad\\xff/Dockerfile,line=1::invalid Dockerfile: FROM requires an image",
        "::error file=esc\\x1b[2J\\x1b]0;title\\x07/Dockerfile,line=1::invalid Dockerfile: FROM requires an image",
        "::error file=plain/Dockerfile,line=1::invalid Dockerfile: FROM requires an image",
    ]
    summary.encode("utf-8")


def test_unknown_rules_in_select_or_ignore_are_bad_input(make_fake, tmp_path, monkeypatch):
    fake = make_fake({"app/Dockerfile": SPLIT_APT})
    work = checkout(fake, tmp_path)
    for inputs, expected in (
        ({"select": "HD1, HD9Z"}, "select: unknown rule 'HD9Z'"),
        ({"ignore": "HD102 no-such-rule"}, "ignore: unknown rule 'no-such-rule'"),
    ):
        code, out, outputs, _ = run_action(fake, work, tmp_path, monkeypatch, **inputs)
        assert code == 2
        assert out == f"::error::hardener: bad input: {expected} (see `hardener rules`)\n"
        assert not outputs and not fake.calls


# -- outputs ---------------------------------------------------------------------------------
def test_changed_files_holds_one_line_per_file_even_for_a_line_break_in_a_name(make_fake, tmp_path, monkeypatch):
    fake = make_fake({"app/Dockerfile": SPLIT_APT, f"{NEWLINE}/Dockerfile": SPLIT_APT, "README.md": "# shop\n"})
    code, out, outputs, _ = run_action(fake, checkout(fake, tmp_path), tmp_path, monkeypatch)
    assert code == 0, out
    assert_log_safe(out)
    assert outputs["changed-files"].splitlines() == ["app/Dockerfile", "nl\\x0a::error::injected/Dockerfile"]
    # The commit itself keeps the file's real name.
    assert tree_paths(fake, "hardener/harden") == [b"README.md", b"app/Dockerfile", b"nl\n::error::injected/Dockerfile"]
    fixed = fake.read("hardener/harden", f"{NEWLINE}/Dockerfile")
    assert fixed.startswith("FROM debian:12\nRUN apt-get update && \\\n")


def test_a_multi_line_output_uses_a_delimiter_its_value_does_not_hold(tmp_path, monkeypatch):
    import uuid

    taken = uuid.UUID(int=1)
    fresh = iter([taken, taken, uuid.UUID(int=2)])
    monkeypatch.setattr(uuid, "uuid4", lambda: next(fresh))
    value = f"a\nghadelimiter_{taken}\nb"
    output = tmp_path / "output.txt"
    Actions({"GITHUB_OUTPUT": str(output)}, io.StringIO()).set_output("changed-files", value)
    text = output.read_text()
    assert text == f"changed-files<<ghadelimiter_{uuid.UUID(int=2)}\n{value}\nghadelimiter_{uuid.UUID(int=2)}\n"
    assert parse_outputs(text) == {"changed-files": value}


def test_a_file_whose_name_is_not_utf8_is_left_out_of_the_pull_request(make_fake, tmp_path, monkeypatch):
    fake = make_fake({"app/Dockerfile": SPLIT_APT, f"{NOT_UTF8}/Dockerfile": SPLIT_APT})
    code, out, outputs, summary = run_action(fake, checkout(fake, tmp_path), tmp_path, monkeypatch)
    assert code == 0, out
    assert_log_safe(out)
    assert (
        "::notice::hardener: left bad\\xff/Dockerfile out of the pull request: its name is not UTF-8, which "
        "GitHub's API cannot carry; run `hardener fix` on it locally"
    ) in out
    assert outputs["changed-files"] == "app/Dockerfile"
    # Never committed under another name: the branch holds the file as it is on main.
    assert tree_paths(fake, "hardener/harden") == [b"app/Dockerfile", b"bad\xff/Dockerfile"]
    assert fake.read("hardener/harden", f"{NOT_UTF8}/Dockerfile") == SPLIT_APT
    body = fake.pulls[int(outputs["pr-number"])]["body"]
    assert "`app/Dockerfile`" in body and "bad" not in body
    assert "`bad\\xff/Dockerfile`" in summary  # its findings are still reported


def test_sync_pull_request_never_sends_a_name_the_api_cannot_carry(make_fake, tmp_path):
    fake = make_fake({"app/Dockerfile": SPLIT_APT, "README.md": "# shop\n"})
    repo = make_github("token", fake.url).get_repo(f"{fake.owner}/{fake.name}")
    fixed = ("FROM debian:12\nUSER app\n", "100644")
    outcome = sync_pull_request(
        repo,
        {"app/Dockerfile": fixed, f"{NOT_UTF8}/Dockerfile": fixed},
        body="body",
        title="Harden",
        branch="hardener/harden",
        base="main",
    )
    assert tree_paths(fake, "hardener/harden") == [b"README.md", b"app/Dockerfile"]
    assert outcome.operation == "created" and outcome.left_out == (f"{NOT_UTF8}/Dockerfile",)
    assert not fake.errors
    # Left with only such files, the pull request closes and says why they are not in it.
    outcome = sync_pull_request(
        repo, {f"{NOT_UTF8}/Dockerfile": fixed}, body="body", title="Harden", branch="hardener/harden", base="main"
    )
    assert outcome.operation == "closed" and outcome.left_out == (f"{NOT_UTF8}/Dockerfile",)
    assert "not UTF-8" in fake.comments[-1]["body"]
    assert fake.ref("hardener/harden") is None


# -- review mode --------------------------------------------------------------------------------
def review(fake, tmp_path, monkeypatch, files, **inputs):
    fake.commit_files("feature", files, "a contributor's change")
    number = fake.open_pull_from("feature")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": number}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    work = checkout(fake, tmp_path, "feature")
    code, out, _, _ = run_action(fake, work, tmp_path, monkeypatch, mode="review", **inputs)
    assert code == 0, out
    assert_log_safe(out)
    [posted] = fake.reviews
    return [c for c in fake.review_comments if c["review"] == posted["id"]]


def test_a_line_of_backticks_in_the_file_cannot_close_the_suggestion(make_fake, tmp_path, monkeypatch):
    fake = make_fake({"app/Dockerfile": 'FROM debian:12\nCMD ["bash"]\n'})
    # The user is created after the line of backticks (a continuation of the RUN above it).
    changed = 'FROM debian:12\nRUN echo hi \\\n```\nCMD ["bash"]\n'
    [comment] = review(fake, tmp_path, monkeypatch, {"app/Dockerfile": changed}, select="HD101", unsafe_fixes="true")
    body = comment["body"]
    assert "\n````suggestion\n```\nRUN groupadd --system" in body
    assert body.endswith("\nUSER 10001:10001\n````")
    # GitHub's reading: the block opened by the fence runs to the fence's closing line, not before.
    block = re.search(r"^(`{3,})suggestion\n(.*?)^\1$", body, re.S | re.M)
    assert block.group(2).startswith("```\nRUN groupadd") and block.group(2).endswith("USER 10001:10001\n")


def test_file_text_in_the_reason_for_a_suggestion_renders_as_text(make_fake, tmp_path, monkeypatch):
    fake = make_fake({"compose.yaml": COMPOSE})
    key = "API_TOKEN_<img src=x onerror=alert(1)>_`x`_@octocat_https://evil/x"
    changed = COMPOSE + f'    environment:\n      "{key}": abc123\n'
    [comment] = review(fake, tmp_path, monkeypatch, {"compose.yaml": changed}, select="HD206", unsafe_fixes="true")
    why = comment["body"].split("\n\n", 1)[0]
    assert why == (
        "**HD206 secret-in-environment** (behaviour-changing): moved API\\_TOKEN\\_\\<img src=x onerror=alert(1)\\>"
        "\\_\\`x\\`\\_@\u200boctocat\\_https:\u200b//evil/x to the variable "
        "API\\_TOKEN\\_\\_IMG\\_SRC\\_X\\_ONERROR\\_ALERT\\_1\\_\\_\\_\\_X\\_\\_\\_OCTOCAT\\_HTTPS\\_\\_\\_EVIL\\_X"
    )
    assert "abc123" not in comment["body"], "the secret value never reaches the review"


def test_review_digest_takes_names_that_are_not_utf8():
    first = digest([Suggestion(f"{NOT_UTF8}/Dockerfile", 2, 2, "RUN true", "why")])
    again = digest([Suggestion(f"{NOT_UTF8}/Dockerfile", 2, 2, "RUN true", "why")])
    other = digest([Suggestion(os.fsdecode(b"bad\xfe") + "/Dockerfile", 2, 2, "RUN true", "why")])
    assert re.fullmatch("[0-9a-f]{16}", first) and first == again != other


def test_a_file_left_out_of_the_commit_is_named_as_escaped_text(make_fake, tmp_path, monkeypatch):
    fake = make_fake({f"{ESCAPES}/compose.yaml": COMPOSE, "app/Dockerfile": SPLIT_APT})
    work = checkout(fake, tmp_path)
    # A push after the checkout, next to the fixed lines: the file is left out and named.
    fake.commit_files("main", {f"{ESCAPES}/compose.yaml": COMPOSE + "    ports:\n      - 8080:80\n"}, "a port")
    code, out, outputs, _ = run_action(fake, work, tmp_path, monkeypatch)
    assert code == 0, out
    assert_log_safe(out)
    assert "::notice::hardener: left esc\\x1b[2J\\x1b]0;title\\x07/compose.yaml out of this commit: " in out
    body = fake.pulls[int(outputs["pr-number"])]["body"]
    assert "### Left out of this commit" in body and "\x1b" not in body and "\x07" not in body
    assert outputs["changed-files"] == "app/Dockerfile"
