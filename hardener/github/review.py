"""Review suggestions on an incoming pull request: one review, ```suggestion blocks on changed lines."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from hardener import linediff
from hardener.reporters.escape import md_fence, md_text

MARKER = "<!-- hardener:review v1"
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


@dataclass(frozen=True)
class Suggestion:
    path: str
    start_line: int  # first line replaced, in the pull request's version of the file
    line: int  # last line replaced
    replacement: str  # the new text for those lines (no trailing newline)
    why: str

    def comment(self) -> dict:
        # A fence longer than any backtick run in the replacement: no line of the file can close it early.
        fence = md_fence(self.replacement)
        body = f"{self.why}\n\n{fence}suggestion\n{self.replacement}\n{fence}"
        comment = {"path": self.path, "line": self.line, "side": "RIGHT", "body": body}
        if self.start_line != self.line:
            comment.update(start_line=self.start_line, start_side="RIGHT")
        return comment


def changed_lines(patch: str | None) -> set[int]:
    """Lines of the new file that the pull request added or changed (from GitHub's patch)."""
    lines: set[int] = set()
    number = 0
    for row in (patch or "").splitlines():
        m = _HUNK.match(row)
        if m:
            number = int(m.group(1))
        elif row.startswith("+"):
            lines.add(number)
            number += 1
        elif not row.startswith("-") and not row.startswith("\\"):
            number += 1
    return lines


def suggestions_for(path: str, original: str, fixed: str, applied, allowed: set[int]) -> list[Suggestion]:
    """Turn the difference between original and fixed into suggestions on allowed lines."""
    before = original.splitlines()
    after = fixed.splitlines()
    out = []
    for tag, i1, i2, j1, j2 in linediff.opcodes(before, after):
        if tag == "equal":
            continue
        if tag == "insert":
            if i1 == 0:
                continue  # nothing above to attach an insertion to
            start = end = i1  # attach to the line above: keep it, then add the new lines
            replacement = "\n".join([before[i1 - 1], *after[j1:j2]])
        else:
            start, end = i1 + 1, i2
            replacement = "\n".join(after[j1:j2])
        if not all(n in allowed for n in range(start, end + 1)):
            continue
        why = sorted(
            {
                f"**{a.rule} {a.name}** ({a.tier.value}): {md_text(a.description)}"
                for a in applied
                if start - 3 <= a.line <= end + 1
            }
        )
        out.append(Suggestion(path, start, end, replacement, "\n".join(why) or "hardener suggests this change."))
    return out


def digest(suggestions: list[Suggestion]) -> str:
    text = "\n".join(f"{s.path}:{s.start_line}-{s.line}:{s.replacement}" for s in suggestions)
    # surrogatepass: a name or text that is not UTF-8 (surrogate escapes) still hashes, the same way each run.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def post_review(repo, number: int, suggestions: list[Suggestion], summary: str) -> str:
    """Post one review with the suggestions, replacing hardener's previous one. Returns the operation."""
    pull = repo.get_pull(number)
    key = digest(suggestions)
    previous = [r for r in pull.get_reviews() if (r.body or "").startswith(MARKER)]
    if previous and f"{MARKER} {key} -->" in (previous[-1].body or ""):
        return "unchanged"
    if previous:
        # Replace, never pile up: remove the old review's comments and say it was superseded.
        old_ids = {r.id for r in previous}
        for comment in pull.get_review_comments():
            if comment.pull_request_review_id in old_ids:
                comment.delete()
        previous[-1].edit(f"{MARKER} superseded -->\nSuperseded by a newer hardener review.")
    if not suggestions:
        return "cleared" if previous else "none"
    body = f"{MARKER} {key} -->\n{summary}"
    # Without commit_id GitHub anchors the comments on the pull request's head commit.
    pull.create_review(body=body, event="COMMENT", comments=[s.comment() for s in suggestions])
    return "posted"


def review_pull_request(inputs, actions, env, out) -> int:
    """Review mode: suggestions on the container files an incoming pull request changes."""
    import json
    import os

    from github import GithubException

    from hardener.github.action import _relative, _report_files, _repository, _run
    from hardener.github.pr import explain

    event = {}
    if env.get("GITHUB_EVENT_PATH"):
        with open(env["GITHUB_EVENT_PATH"], encoding="utf-8") as fh:
            event = json.load(fh)
    number = (event.get("pull_request") or {}).get("number")
    if not number:
        actions.error("hardener: review mode runs on pull_request events")
        return 2
    repo = _repository(inputs, env)
    pull = repo.get_pull(number)
    changed = {f.filename: changed_lines(f.patch) for f in pull.get_files()}
    from hardener.files import resolve_inside
    from hardener.kinds import kind_of_name

    paths = []
    for path in changed:
        if kind_of_name(os.path.basename(path)) is None or not os.path.lexists(path):
            continue
        real = resolve_inside(path)
        if real is None:
            # A link the pull request points out of the repository: never read, never shown.
            actions.notice(f"hardener: skipped {path}: it leads outside the repository through a symbolic link")
        elif os.path.isfile(real):
            paths.append(path)
    inputs.paths = tuple(paths) or inputs.paths
    report = _run(inputs, "fix") if paths else None
    if report is None:
        actions.notice("hardener: the pull request changes no Dockerfile or compose file")
        return 0
    relevant = [o for o in report.files if _relative(o.target.path) in changed]
    suggestions = []
    for outcome in relevant:
        if outcome.changed:
            rel = _relative(outcome.target.path)
            suggestions += suggestions_for(rel, outcome.original, outcome.fixed, outcome.applied, changed[rel])
    written = _report_files(report, inputs, actions, out)
    summary = f"hardener has {len(suggestions)} suggestion{'s' * (len(suggestions) != 1)} for the container files this pull request changes."
    try:
        operation = post_review(repo, number, suggestions, summary)
    except GithubException as exc:
        if exc.status in (403, 404):
            # A read-only token (a pull request from a fork): annotations and the summary carry the findings.
            actions.notice(f"hardener: could not post a review ({explain(exc)}); see the annotations and job summary")
            return 0 if written else 2
        raise
    actions.notice(f"hardener: review {operation}")
    if not written:
        return 2
    return 1 if inputs.fail_on_findings and report.findings else 0
