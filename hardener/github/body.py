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
_BUDGET = GITHUB_BODY_LIMIT - 2000  # room for the hidden line that records the fixes (pr.fixes_marker)


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


def _what_ran(report) -> str:
    """The checks each fixed file went through, as one clause: only those that ran."""
    from hardener.kinds import all_kinds

    fixed = [o for o in report.files if o.changed and o.applied]
    checks = []
    for kind in all_kinds():
        of_kind = [o for o in fixed if o.target.kind == kind.name]
        if not of_kind:
            continue
        external = kind.external_check_name
        if external is None:
            checks.append(f"{kind.plural} {kind.parsed_with}")
            continue
        by_external = sum(external in o.checks for o in of_kind)
        if by_external == len(of_kind):
            checks.append(f"{kind.plural} with {external}")
        elif by_external:
            checks.append(f"{kind.plural} {kind.parsed_with} ({by_external} of {len(of_kind)} also with {external})")
        else:
            checks.append(f"{kind.plural} {kind.parsed_with} ({external} did not check them)")
    if not checks:
        return ""
    return f" Each fixed file was re-parsed ({'; '.join(checks)}) and checked to need no further change."


def _pins_images(rule_id: str) -> bool:
    from hardener.rules import rule_by_selector

    rule = rule_by_selector(rule_id) if rule_id else None
    return bool(rule and rule.pins_images)


def _declined_behaviour_change(skip) -> bool:
    """A behaviour-changing rule that chose not to fix, for a reason read from the repository."""
    from hardener.rules import rule_by_selector

    rule = rule_by_selector(skip.rule) if skip.rule else None
    return bool(
        rule is not None
        and rule.tier is Tier.BEHAVIOUR_CHANGING
        and not rule.pins_images
        and "--unsafe-fixes" not in skip.reason
    )


def _listed(items: list[str], limit: int, what: str) -> list[str]:
    """At most `limit` list items, and a line saying how many more there are."""
    shown = items[:limit]
    if len(items) > limit:
        shown.append(f"- and {len(items) - limit} more {what}")
    return shown


def render_body(report, root_of=lambda path: path, *, held_back=None, proven=None) -> str:
    """The description. Guidance comes first in the budget: a long table is cut, never what to test.

    `held_back` holds the files left out of the commit ({path: why}); `proven` what `hardener prove`
    found: (path, verdict) pairs, or a sentence saying why nothing was proven.
    """
    from hardener.rules import rule_by_selector

    applied = report.applied
    files = sorted({root_of(a.path) for a in applied})
    head = [
        MARKER,
        "## Harden container definitions",
        "",
        f"hardener fixed **{len(applied)}** weakness{'es' * (len(applied) != 1)} in **{len(files)}** "
        f"file{'s' * (len(files) != 1)} with minimal edits: every other byte of these files is unchanged."
        + _what_ran(report),
        "",
        "### Changes",
        "",
        "| File | Line | Rule | Tier | What changed | References |",
        "|---|---|---|---|---|---|",
    ]

    closing: list[str] = []
    if held_back:
        closing += ["", "### Left out of this commit", ""]
        closing += _listed([f"- {md_code(path)}: {md(why)}" for path, why in sorted(held_back.items())], 50, "files")
    risky = [a for a in applied if a.tier is Tier.BEHAVIOUR_CHANGING]
    if risky:
        closing += ["", "### Behaviour-changing fixes: the evidence", ""]
        closing += _listed(
            [
                f"- {md_code(f'{root_of(a.path)}:{a.line}')} **{md(a.rule)}** {md(a.description)}"
                + (": " + "; ".join(md(e) for e in a.evidence) if a.evidence else "")
                for a in risky
            ],
            50,
            "fixes",
        )
    if isinstance(proven, str):
        closing += ["", "### Started on real containers", "", f"Not proven: {md(proven)}"]
    elif proven:
        closing += [
            "",
            "### Started on real containers",
            "",
            "Each stack and image was built and started as written and with the fixes (`hardener prove`):",
            "",
        ]
        closing += _listed(
            [
                f"- {md_code(f'{root_of(path)}:{v.line}')} **{md(v.rule)}** {md(v.status)}: {md(v.description)}"
                f" ({md(v.why)})"
                for path, v in proven
            ],
            50,
            "fixes",
        )
    needed = sorted({(root_of(a.path), name) for a in applied for name in a.requires})
    if needed:
        closing += ["", "### Before `docker compose up`", ""]
        closing += _listed(
            [
                f"- {md_code(path)} now needs {md_code(name)}: set it in the environment, or in an untracked "
                "`.env` beside the file (and list it in `.env.example`)"
                for path, name in needed
            ],
            50,
            "variables",
        )
    declined = [s for s in report.skipped if _declined_behaviour_change(s)]
    if declined:
        closing += ["", "### Not changed, and why", ""]
        closing += _listed(
            [f"- {md_code(f'{root_of(s.path)}:{s.line}')} {md(s.rule)}: {md(s.reason)}" for s in declined],
            50,
            "decisions",
        )
    if risky:
        closing += ["", "### Behaviour-changing fixes: what to test", ""]
        for rule_id, count in Counter(a.rule for a in risky).items():
            rule = rule_by_selector(rule_id)
            if rule is None:
                continue  # an applied fix always names a rule; a rule removed since cannot explain itself
            where = sorted({root_of(a.path) for a in risky if a.rule == rule_id})
            closing.append(
                f"- **{rule_id} {rule.name}** ({count}, in {', '.join(md_code(w) for w in where[:5])}"
                f"{' and more' if len(where) > 5 else ''}): {_own(what_to_test(rule))}"
            )

    unpinned = [s for s in report.skipped if _pins_images(s.rule)]
    if unpinned:
        closing += ["", "### Images not pinned", ""]
        closing += _listed(
            [f"- {md_code(f'{root_of(s.path)}:{s.line}')}: {md(s.reason)}" for s in unpinned], 50, "images"
        )

    remaining = Counter((f.rule, f.name) for f in report.findings)
    if remaining:
        closing += [
            "",
            "### Left for you",
            "",
            "These need a decision hardener cannot make; they are reported, not changed:",
            "",
        ]
        closing += _listed([f"- {rule} {name}: {n}" for (rule, name), n in sorted(remaining.items())], 100, "rules")

    # The examples name a rule this pull request applied, the behaviour-changing ones first.
    example = next(iter([a.rule for a in risky] + [a.rule for a in applied]), None)
    closing += [
        "",
        "### Configure or suppress",
        "",
        "- In `.hardener.toml` (or `[tool.hardener]` in `pyproject.toml`): "
        + (f'`ignore = ["{example}"]`, ' if example else "`ignore = [...]` with rule ids, ")
        + "`unsafe-fixes = false` for safe fixes only, limits and capabilities per image.",
        "- On the line above an instruction or service: "
        + (f"`# hardener: ignore={example} -- why`." if example else "`# hardener: ignore=<rule id> -- why`."),
        "",
        f"<sub>Made by hardener {__version__}. This branch is rewritten on each run, so edit the files on your "
        "own branch, not here.</sub>",
    ]

    # The table gets what the guidance leaves, less room for the line that says rows were left out.
    budget = _BUDGET - sum(len(x) + 1 for x in head + closing) - 120
    rows = []
    for a in applied:
        rule = rule_by_selector(a.rule)
        refs = ", ".join(rule.references[:3]) if rule else ""
        row = (
            f"| {md_code(root_of(a.path), table=True)} | {a.line} | {md(a.rule)} {md(a.name)} | {a.tier.value} "
            f"| {md(a.description)} | {_own(refs)} |"
        )
        if len(row) + 1 > budget:
            break
        rows.append(row)
        budget -= len(row) + 1
    if len(rows) < len(applied):
        left = len(applied) - len(rows)
        rows += ["", f"_{left} more change{'s' * (left != 1)} not listed here (GitHub's size limit); see the diff._"]
    body = "\n".join(head + rows + closing)
    return body if len(body) <= _BUDGET else body[: _BUDGET - 40] + "\n\n_(truncated)_"
