"""The pull request's description: what changed, why, what to test, what was left. Pure text.

Paths and messages come from the repository's files: paths are code spans nothing can break out of, and
every other value is escaped Markdown text (no HTML, links, images or mentions); see reporters/escape.py.
"""

from __future__ import annotations

import re
from collections import Counter

from hardener import __version__
from hardener.model import Tier
from hardener.reporters.escape import md_code, md_text

MARKER = "<!-- hardener:pull-request v1 -->"
GITHUB_BODY_LIMIT = 65536
_BUDGET = GITHUB_BODY_LIMIT - 2000  # room for the closing sections


def md(text: str) -> str:
    """Text from the repository's files, rendered as itself in a table cell or list item: see escape.md_text."""
    return md_text(text)


def _own(text: str) -> str:
    """hardener's own Markdown (rule advice and references) in a table cell or list item: one line, no pipes."""
    return text.replace("|", "\\|").replace("\n", " ")


def what_to_test(rule) -> str:
    """The rationale's advice on testing (its sentences that start with Test or Check)."""
    sentences = re.split(r"(?<=[.!?])\s+", rule.rationale)
    advice = [s for s in sentences if s.startswith(("Test", "Check", "Set the variable"))]
    return " ".join(advice) or rule.summary + "."


def render_body(report, root_of=lambda path: path) -> str:
    from hardener.rules import rule_by_selector

    applied = report.applied
    files = sorted({root_of(a.path) for a in applied})
    lines = [
        MARKER,
        "## Harden container definitions",
        "",
        f"hardener fixed **{len(applied)}** weakness{'es' * (len(applied) != 1)} in **{len(files)}** "
        f"file{'s' * (len(files) != 1)} with minimal edits: every other byte of these files is unchanged, and "
        "each fixed file was re-parsed (BuildKit; Docker Compose) and checked to need no further change.",
        "",
        "### Changes",
        "",
        "| File | Line | Rule | Tier | What changed | References |",
        "|---|---|---|---|---|---|",
    ]
    size = sum(len(x) + 1 for x in lines)
    shown = 0
    for a in applied:
        rule = rule_by_selector(a.rule)
        refs = ", ".join(rule.references[:3]) if rule else ""
        row = (
            f"| {md_code(root_of(a.path), table=True)} | {a.line} | {md(a.rule)} {md(a.name)} | {a.tier.value} "
            f"| {md(a.description)} | {_own(refs)} |"
        )
        if size + len(row) > _BUDGET:
            break
        lines.append(row)
        size += len(row) + 1
        shown += 1
    if shown < len(applied):
        lines += ["", f"_{len(applied) - shown} more changes are not listed here (GitHub's size limit); see the diff._"]

    risky = [a for a in applied if a.tier is Tier.BEHAVIOUR_CHANGING]
    if risky:
        lines += ["", "### Behaviour-changing fixes: what to test", ""]
        for rule_id, count in Counter(a.rule for a in risky).items():
            rule = rule_by_selector(rule_id)
            where = sorted({root_of(a.path) for a in risky if a.rule == rule_id})
            lines.append(
                f"- **{rule_id} {rule.name}** ({count}, in {', '.join(md_code(w) for w in where[:5])}"
                f"{' and more' if len(where) > 5 else ''}): {_own(what_to_test(rule))}"
            )

    unpinned = [s for s in report.skipped if s.rule in ("HD112", "HD207")]
    if unpinned:
        lines += ["", "### Images not pinned", ""]
        lines += [f"- {md_code(f'{root_of(s.path)}:{s.line}')}: {md(s.reason)}" for s in unpinned[:50]]

    remaining = Counter((f.rule, f.name) for f in report.findings)
    if remaining:
        lines += [
            "",
            "### Left for you",
            "",
            "These need a decision hardener cannot make; they are reported, not changed:",
            "",
        ]
        lines += [f"- {rule} {name}: {n}" for (rule, name), n in sorted(remaining.items())]

    lines += [
        "",
        "### Configure or suppress",
        "",
        '- In `.hardener.toml` (or `[tool.hardener]` in `pyproject.toml`): `ignore = ["HD203"]`, '
        "`unsafe-fixes = false` for safe fixes only, limits and capabilities per image.",
        "- On the line above an instruction or service: `# hardener: ignore=HD101 -- why`.",
        "",
        f"<sub>Made by hardener {__version__}. This branch is rewritten on each run, so edit the files on your "
        "own branch, not here.</sub>",
    ]
    body = "\n".join(lines)
    return body if len(body) <= GITHUB_BODY_LIMIT else body[: GITHUB_BODY_LIMIT - 40] + "\n\n_(truncated)_"
