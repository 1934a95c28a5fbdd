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
