"""Inline suppressions: `# hardener: ignore=RULE` above what a finding is about, and hadolint's pragmas.

In a Dockerfile the comment goes on the line(s) above the instruction; in a
compose file above the key (or at the end of its line).

    # hardener: ignore=HD101 -- the Action's container must run as root
    # hardener: global ignore=HD109
    # hadolint ignore=DL3002,DL3008
    # hadolint global ignore=DL3059
"""

from __future__ import annotations

import re

_PRAGMA = re.compile(r"^#\s*(hardener:|hadolint)\s*(global\s+)?ignore\s*=\s*([A-Za-z0-9_,\- ]+)")


def _parse(comment: str) -> tuple[str, bool, set[str]] | None:
    m = _PRAGMA.match(comment.strip())
    if not m:
        return None
    tool = "hardener" if m.group(1).startswith("hardener") else "hadolint"
    codes = {c.strip() for c in re.split(r"[,\s]+", m.group(3)) if c.strip()}
    return tool, bool(m.group(2)), codes


def _silences(tool: str, codes: set[str], rule) -> bool:
    if tool == "hadolint":
        return bool(codes & set(rule.hadolint))
    return any(rule.matches(code) for code in codes)


def is_suppressed(document, finding, rule) -> bool:
    for comment in document.comment_lines:
        parsed = _parse(comment)
        if parsed and parsed[1] and _silences(parsed[0], parsed[2], rule):
            return True
    for comment in document.comments_for(finding.line):
        parsed = _parse(comment)
        if parsed and not parsed[1] and _silences(parsed[0], parsed[2], rule):
            return True
    return False


def comments_around(index, line: int) -> tuple[str, ...]:
    """For line-comment languages (YAML, Python): the comment at the end of a line and the block above it."""
    found = []
    text = index.line_text(line) if 0 < line <= index.line_count else ""
    if " #" in text:
        found.append(text[text.index(" #") + 1 :].strip())
    ln = line - 1
    while ln >= 1 and index.line_text(ln).lstrip().startswith("#"):
        found.append(index.line_text(ln).strip())
        ln -= 1
    return tuple(found)


def whole_line_comments(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.lstrip().startswith("#")]
