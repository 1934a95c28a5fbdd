"""Review suggestions on an incoming pull request: ```suggestion comments on the lines it changed.

Each suggestion is one fix (or the few fixes that touch the same lines), made from the fix's own
edits, and anchored on the pull request's head commit. `actions/checkout` gives the merge commit
on pull_request events, so lines are mapped from the checkout to the head, exactly or not at all.
Re-runs keep the conversation: a comment still suggested stays as it is, only new suggestions are
posted, and one no longer suggested is deleted, or marked outdated when someone answered it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from itertools import pairwise

from hardener import linediff
from hardener.model import AppliedFix, Edit
from hardener.reporters.escape import md_fence, md_text
from hardener.textedit import apply_edits

MARKER = "<!-- hardener:review v1"  # starts the body of each review hardener posts
KEY_MARKER = "<!-- hardener:suggestion "  # one line in each suggestion comment: the suggestion's key
OUTDATED_MARKER = "<!-- hardener:outdated "  # replaces KEY_MARKER once hardener no longer suggests it
_KEY = re.compile(r"^<!-- hardener:suggestion ([0-9a-f]{16}(?:-\d+)?) -->$", re.M)
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")
_SUGGESTION_FENCE = re.compile(r"^(`{3,})suggestion$", re.M)


@dataclass(frozen=True)
class Suggestion:
    path: str
    start_line: int  # first line replaced, in the pull request's head version of the file
    line: int  # last line replaced
    replacement: str  # the new text for those lines (no trailing newline; "" with `removes`: no lines)
    why: str
    replaced: str = ""  # the text of the lines replaced (no trailing newline)
    rules: tuple[str, ...] = ()
    key: str = ""  # stable across runs: the same suggestion on shifted lines keeps its key
    fixes: tuple = field(default=(), compare=False, repr=False)  # the applied fixes it shows
    removes: bool = False  # the lines go, with nothing in their place (not one empty line)

    def comment(self) -> dict:
        # A fence longer than any backtick run in the replacement: no line of the file can close it early.
        fence = md_fence(self.replacement)
        marker = f"{KEY_MARKER}{self.key} -->\n" if self.key else ""
        # An empty block removes the lines; a block holding one empty line leaves an empty line.
        block = "" if self.removes else f"{self.replacement}\n"
        body = f"{self.why}\n\n{marker}{fence}suggestion\n{block}{fence}"
        comment = {"path": self.path, "line": self.line, "side": "RIGHT", "body": body}
        if self.start_line != self.line:
            comment.update(start_line=self.start_line, start_side="RIGHT")
        return comment

    def diff(self) -> str:
        """The suggestion as the lines of a unified diff (for the job summary when no review can be posted)."""
        old = self.replaced.split("\n") if self.replaced else []
        new = [] if self.removes else self.replacement.split("\n")
        head = f"@@ -{self.start_line},{len(old)} +{self.start_line},{len(new)} @@"
        return "\n".join([head, *("-" + line for line in old), *("+" + line for line in new)])


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


def text_lines(text: str) -> list[str]:
    """The file's lines as git and GitHub number them: split at LF only (a form feed is not a line break)."""
    lines = text.split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def line_map(workspace: str, head: str) -> Callable[[int], int | None]:
    """Lines of the checked-out text -> lines of the head's text; None for a line with no exact match."""
    if workspace == head:
        return lambda line: line
    mapped: dict[int, int] = {}
    for tag, i1, i2, j1, _j2 in linediff.opcodes(text_lines(workspace), text_lines(head)):
        if tag == "equal":
            for k in range(i2 - i1):
                mapped[i1 + k + 1] = j1 + k + 1
    return mapped.get


# -- per-fix suggestions ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Placed:
    """One fix and the lines of the original its suggestion replaces (first, last; 1-based)."""

    fix: AppliedFix
    chosen: tuple[int, int]


def _line_starts(text: str) -> list[int]:
    starts = [0]
    pos = text.find("\n")
    while pos != -1:
        starts.append(pos + 1)
        pos = text.find("\n", pos + 1)
    return starts


def _candidates(text: str, starts: list[int], edits) -> list[tuple[int, int]]:
    """Line ranges (1-based, inclusive) of the original that hold all of a fix's edits.

    A pure insertion of whole lines has no line of its own: it attaches to the line above (kept,
    then the new lines), or failing that to the line below (the new lines, then the line kept).
    """
    import bisect

    count = len(text_lines(text))

    def line_of(offset: int) -> int:
        return bisect.bisect_right(starts, offset)

    first: int | None = None
    last: int | None = None
    points: list[int] = []
    for edit in edits:
        at_line_start = edit.start == 0 or text[edit.start - 1] == "\n"
        if edit.start == edit.end and at_line_start and edit.content.endswith("\n"):
            points.append(line_of(edit.start))  # inserted before this line (count + 1: at the end)
            continue
        low, high = line_of(edit.start), line_of(max(edit.start, edit.end - 1))
        first = low if first is None else min(first, low)
        last = high if last is None else max(last, high)
    if first is not None and last is not None:
        # An insertion just above or just below the changed lines is inside their text already.
        first = min([first, *(p for p in points if p <= first)])
        last = max([last, *(p - 1 for p in points if p - 1 >= last)])
        return [(first, last)] if 1 <= first <= last <= count else []
    low, high = min(points), max(points)
    out = []
    if low - 1 >= 1:
        out.append((low - 1, high - 1))
    if high <= count:
        out.append((low, high))
    return out


def suggestions_for(
    path: str,
    original: str,
    applied,
    allowed: set[int],
    to_head: Callable[[int], int | None] = lambda line: line,
) -> tuple[list[Suggestion], list]:
    """One suggestion per fix (fixes on the same lines combined), on lines the pull request changed.

    `allowed` holds head lines; `to_head` maps lines of `original` to them. A suggestion whose lines
    do not all map exactly, one after another, is dropped: it is never moved. Returns the suggestions
    and the fixes that could not be shown alone: those whose edits change text another fix made (their
    `edits` are empty) are skipped, since the original holds nothing to suggest them on.
    """
    starts = _line_starts(original)
    count = len(text_lines(original))

    def fits(first: int, last: int) -> bool:
        mapped = [to_head(n) for n in range(first, last + 1)]
        head = [h for h in mapped if h is not None and h in allowed]
        if len(head) != len(mapped):
            return False
        if any(b != a + 1 for a, b in pairwise(head)):
            return False
        # The lines just around must be neighbours in the head too, or an insertion at the edge
        # would land next to a line the checkout does not have there.
        above = to_head(first - 1) if first > 1 else 0
        below = to_head(last + 1) if last < count else head[-1] + 1
        return above == head[0] - 1 and below == head[-1] + 1

    placed, unplaceable = [], []
    for fix in applied:
        if not fix.edits:
            unplaceable.append(fix)
            continue
        candidates = _candidates(original, starts, fix.edits)
        chosen = next((c for c in candidates if fits(*c)), None)
        if chosen is not None:
            placed.append(_Placed(fix, chosen))
    # Fixes whose lines overlap make one suggestion: two suggestions on one line cannot both be applied.
    placed.sort(key=lambda p: p.chosen)
    groups: list[list[_Placed]] = []
    for item in placed:
        if groups and item.chosen[0] <= max(p.chosen[1] for p in groups[-1]):
            groups[-1].append(item)
        else:
            groups.append([item])
    out = []
    for group in groups:
        first = group[0].chosen[0]
        last = max(p.chosen[1] for p in group)
        head_first, head_last = to_head(first), to_head(last)
        if head_first is None or head_last is None or not fits(first, last):
            continue
        begin = starts[first - 1]
        end = starts[last] if last < len(starts) else len(original)
        region = original[begin:end]
        edits = [Edit(e.start - begin, e.end - begin, e.content) for p in group for e in p.fix.edits]
        try:
            new_region = apply_edits(region, edits)
        except ValueError:
            continue  # fixes from different rounds at one place: no order to show them in
        old_lines, new_lines = text_lines(region), text_lines(new_region)
        replacement = "\n".join(line.removesuffix("\r") for line in new_lines)
        replaced = "\n".join(line.removesuffix("\r") for line in old_lines)
        fixes = [p.fix for p in group]
        why = "\n".join(
            dict.fromkeys(f"**{f.rule} {f.name}** ({f.tier.value}): {md_text(f.description)}" for f in fixes)
        )
        rules = tuple(sorted({f.rule for f in fixes}))
        out.append(
            Suggestion(
                path,
                head_first,
                head_last,
                replacement,
                why,
                replaced=replaced,
                rules=rules,
                fixes=tuple(fixes),
                removes=not new_lines,
            )
        )
    return _with_keys(out), unplaceable


def _with_keys(suggestions: list[Suggestion]) -> list[Suggestion]:
    """Each suggestion's key: from what it says and where it says it, never from its line numbers."""
    seen: dict[str, int] = {}
    out = []
    for s in suggestions:
        text = "\0".join([s.path, ",".join(s.rules), "\0" if s.removes else s.replacement, s.replaced])
        key = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        seen[key] = seen.get(key, 0) + 1
        # The same change on two identical lines of one file: the second is told apart by its order.
        out.append(replace(s, key=key if seen[key] == 1 else f"{key}-{seen[key]}"))
    return out


def digest(suggestions: list[Suggestion]) -> str:
    text = "\n".join(f"{s.path}:{s.start_line}-{s.line}:{s.replacement}" for s in suggestions)
    # surrogatepass: a name or text that is not UTF-8 (surrogate escapes) still hashes, the same way each run.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


# -- posting ----------------------------------------------------------------------------------------
def outdated_body(body: str) -> str:
    """A comment no longer suggested, kept for its conversation: said so, its text kept, nothing to apply."""
    m = _KEY.search(body)
    body = _KEY.sub("", body, count=1)
    body = _SUGGESTION_FENCE.sub(r"\1", body)  # a plain code block: GitHub offers no button to apply it
    return (
        f"{OUTDATED_MARKER}{m.group(1) if m else 'v1'} -->\n"
        "**No longer suggested**: hardener does not suggest this any more (the lines changed, or the fix "
        "no longer applies). What it suggested:\n\n" + body
    )


@dataclass(frozen=True)
class ReviewOutcome:
    operation: str  # posted, updated, unchanged, none
    posted: int = 0
    kept: int = 0
    deleted: int = 0
    outdated: int = 0


def post_review(repo, number: int, suggestions: list[Suggestion], summary: str, commit_id: str) -> ReviewOutcome:
    """Post the suggestions not yet on the pull request in one review; tidy up those no longer made.

    Only hardener's own comments are touched: top-level comments that carry a key (or sit in a review
    hardener posted before keys existed), by the account that posted hardener's reviews (the Actions
    bot, an App or a person's token alike). Nothing new and nothing stale: no write.
    """
    pull = repo.get_pull(number)
    reviews = [r for r in pull.get_reviews() if (r.body or "").startswith(MARKER)]
    ours = {r.id for r in reviews}
    authors = {r.user.login for r in reviews if r.user}
    comments = list(pull.get_review_comments())
    answered = {c.in_reply_to_id for c in comments if c.in_reply_to_id}
    live: dict[str, list] = {}
    stale = []
    for comment in comments:
        if comment.in_reply_to_id or not comment.user or comment.user.login not in authors:
            continue
        body = comment.body or ""
        if body.startswith(OUTDATED_MARKER):
            continue  # already marked outdated: left as it is
        m = _KEY.search(body)
        if m:
            live.setdefault(m.group(1), []).append(comment)
        elif comment.pull_request_review_id in ours:
            stale.append(comment)  # from a version of hardener without keys
    wanted = {s.key for s in suggestions}
    new = [s for s in suggestions if s.key not in live]
    for key, found in live.items():
        # A key is kept once; a copy (from two runs at once) or a key no longer suggested goes.
        stale += found[1:] if key in wanted else found
    if new:
        # commit_id: the lines are the head's, so the comments are anchored on exactly that commit.
        pull.create_review(
            commit=repo.get_commit(commit_id),
            body=f"{MARKER} -->\n{summary}",
            event="COMMENT",
            comments=[s.comment() for s in new],
        )
    deleted = outdated = 0
    for comment in stale:
        if comment.id in answered:
            # Someone answered: the conversation stays, marked as outdated, never deleted.
            comment.edit(outdated_body(comment.body or ""))
            outdated += 1
        else:
            comment.delete()
            deleted += 1
    kept = len(wanted & set(live))
    if new:
        operation = "posted"
    elif stale:
        operation = "updated"
    else:
        operation = "unchanged" if kept else "none"
    return ReviewOutcome(operation, len(new), kept, deleted, outdated)


# -- reporting on the pull request's lines ----------------------------------------------------------
def _in_scope(lines, allowed: set[int] | None, to_head) -> list[int]:
    """Head lines of these checkout lines that are in scope (allowed None: the whole file)."""
    out = []
    for n in lines:
        head = to_head(n) if n > 0 else None
        if head is not None and (allowed is None or head in allowed):
            out.append(head)
    return out


def scoped_outcome(outcome, allowed: set[int] | None, to_head, suggested=()):
    """The file's findings and fixes on the pull request's lines, findings at head line numbers.

    `allowed` None: the whole file (filter-mode `file`). Fixes shown as suggestions count as on its lines.
    """
    findings = []
    for finding in outcome.findings:
        if finding.line <= 0 and allowed is None:
            findings.append(finding)  # about the file as a whole
            continue
        span = range(finding.line, max(finding.line, finding.end_line or finding.line) + 1)
        heads = _in_scope(span, allowed, to_head)
        if not heads:
            continue  # on lines the pull request did not add, or the head does not have
        start = to_head(finding.line)
        end = to_head(finding.end_line) if finding.end_line else None
        start = start or heads[0]
        findings.append(replace(finding, line=start, end_line=end if end and end >= start else None))
    shown = {id(fix) for fix in suggested}
    applied = [a for a in outcome.applied if id(a) in shown or _in_scope([a.line], allowed, to_head)]
    return replace(outcome, findings=findings, applied=applied)


# -- the mode ------------------------------------------------------------------------------------------
def _head_text(repo, path: str, head_sha: str) -> str | None:
    """The file's text at the head commit, read through the API (the Action's image has no git)."""
    from github import GithubException

    try:
        content = repo.get_contents(path, ref=head_sha)
        if isinstance(content, list):
            return None
        data = content.decoded_content if content.encoding == "base64" and content.content else None
        if data is None:  # over 1 MB the contents API leaves the text out; the blob has it
            import base64

            data = base64.b64decode(repo.get_git_blob(content.sha).content)
    except GithubException as exc:
        if exc.status == 404:
            return None
        raise
    data = data.removeprefix(b"\xef\xbb\xbf")
    return data.decode("utf-8", "surrogateescape")


def _summary_room(env) -> int:
    """Bytes the job summary can still take (GitHub allows 1 MiB a step)."""
    import os

    from hardener.reporters.github import SUMMARY_LIMIT

    path = env.get("GITHUB_STEP_SUMMARY")
    used = os.path.getsize(path) if path and os.path.isfile(path) else 0
    return max(0, SUMMARY_LIMIT - used)


def review_pull_request(inputs, actions, env, out) -> int:
    """Review mode: suggestions on the container files an incoming pull request changes."""
    import json
    import os

    from github import GithubException

    from hardener.github.action import _relative, _report_files, _repository, _run
    from hardener.github.pr import explain
    from hardener.reporters import github as github_reporter

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
    head_sha = pull.head.sha
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
    suggestions: list[Suggestion] = []
    unplaceable = 0
    scoped = []
    for outcome in report.files:
        rel = _relative(outcome.target.path)
        if rel not in changed:
            continue
        if outcome.error is not None:
            scoped.append(outcome)
            continue
        head = _head_text(repo, rel, head_sha)
        if head is None:
            continue  # not in the head commit (the pull request deletes it): nothing to suggest on
        # The checkout may be the merge commit: its lines are mapped to the head's, exactly or not at all.
        to_head = line_map(outcome.original, head)
        allowed = changed[rel]
        made, skipped = suggestions_for(rel, outcome.original, outcome.applied, allowed, to_head)
        suggestions += made
        unplaceable += sum(1 for a in skipped if _in_scope([a.line], allowed, to_head))
        suggested = [fix for s in made for fix in s.fixes]
        scope = allowed if inputs.filter_mode == "added" else None
        scoped.append(scoped_outcome(outcome, scope, to_head, suggested))
    scoped_report = replace(report, files=scoped)
    written = _report_files(scoped_report, inputs, actions, out)
    count = f"{len(suggestions)} suggestion{'s' * (len(suggestions) != 1)}"
    summary = f"hardener has {count} for the container files this pull request changes."
    if unplaceable:
        actions.notice(
            f"hardener: {unplaceable} fix{'es' * (unplaceable != 1)} on this pull request's lines change text "
            "another fix made, so they are not suggested on their own; `hardener fix` shows them"
        )
        summary += (
            f" {unplaceable} more fix{'es' * (unplaceable != 1)} build on another fix's change and cannot be "
            "shown alone: run `hardener fix` on the branch to see them."
        )
    problems = len(scoped_report.findings) + len(scoped_report.applied)
    try:
        outcome = post_review(repo, number, suggestions, summary, head_sha)
    except GithubException as exc:
        if exc.status in (403, 404):
            # A read-only token (a pull request from a fork): the summary and annotations carry the suggestions.
            actions.notice(f"hardener: could not post a review ({explain(exc)}); see the annotations and job summary")
            github_reporter.suggestion_annotations(suggestions, out)
            if suggestions:
                note = f"Not posted as a review: {explain(exc)}."
                actions.summary(github_reporter.suggestions_summary(suggestions, note, limit=_summary_room(env)))
            if not written:
                return 2
            return 1 if inputs.fail_on_findings and problems else 0
        raise
    messages = {
        "posted": f"posted {outcome.posted} new suggestion{'s' * (outcome.posted != 1)}",
        "updated": "no new suggestions",
        "unchanged": "no new suggestions",
        "none": "nothing to suggest",
    }
    detail = [
        f"{n} {what}"
        for n, what in ((outcome.kept, "kept"), (outcome.deleted, "removed"), (outcome.outdated, "marked outdated"))
        if n
    ]
    actions.notice(f"hardener: review: {messages[outcome.operation]}" + (f" ({', '.join(detail)})" if detail else ""))
    if not written:
        return 2
    return 1 if inputs.fail_on_findings and problems else 0
