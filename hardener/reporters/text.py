"""Human-readable output: one line per finding, a unified diff, and a closing summary.

Paths and messages are shown with `visible` and `inert` (hardener.reporters.escape): one line each, no
terminal escape sequences, no GitHub workflow commands. The patch is the files' own text, so it is written
as is where it can be piped to `git apply`; on a terminal its control characters are shown as escapes,
and in a GitHub Actions log it is fenced with `stop-commands` so no line of it runs as a command.
"""

from __future__ import annotations

import os
import sys

from hardener import linediff
from hardener.model import Tier
from hardener.reporters.escape import git_quoted, inert, visible


class Painter:
    def __init__(self, stream):
        self.on = hasattr(stream, "isatty") and stream.isatty() and "NO_COLOR" not in os.environ

    def __call__(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.on else text


def finding_line(f, paint) -> str:
    if f.fix is not None:
        tag = f" [{f.fix.tier.value} fix]"
    elif f.fix_unavailable:
        tag = " [no fix]"
    else:
        tag = ""
    # Production is what a file is unless something says otherwise: only other roles are named.
    role = f" ({visible(f.role)} file)" if f.role and f.role != "production" else ""
    rule = paint(visible(f.rule), "1;31" if f.severity.value == "error" else "1;33")
    return inert(f"{visible(f.path)}:{f.line}:{f.column}: {rule} {visible(f.message)}{tag}{role}")


def unified_diff(outcome) -> str:
    path = outcome.target.path.replace(os.sep, "/").lstrip("/")
    # The byte-order mark belongs to the first line, so `git apply` finds its context.
    bom = "\ufeff" if outcome.bom else ""
    lines = linediff.unified_diff(
        (bom + outcome.original).splitlines(keepends=True),
        (bom + outcome.fixed).splitlines(keepends=True),
        # A name with a line break or control byte is quoted as git quotes it, so the header stays one line.
        fromfile=git_quoted(f"a/{path}"),
        tofile=git_quoted(f"b/{path}"),
    )
    out = []
    for line in lines:
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    return "".join(out)


def render(report, *, diff: bool, out=None, err=None, statistics: bool = False, show_fixes: bool = False) -> None:
    out = out or sys.stdout
    err = err or sys.stderr
    # With --diff the patch owns stdout, so it can be piped to `git apply`.
    notes = err if diff else out
    paint = Painter(notes)
    if diff:
        _write_patch(report, out)
    if statistics:
        for row in statistics_rows(report):
            notes.write(inert(_statistics_line(row)) + "\n")
    else:
        _write_lines(report, diff, notes, paint)
    if show_fixes:
        notes.write(fixes_enumeration(report, diff))
    for error in report.all_errors:
        notes.write(f"{paint('error', '1;31')}: {inert(visible(error))}\n")
    notes.write(summary(report, diff) + "\n")


def statistics_rows(report) -> list[dict]:
    """The findings left, counted per rule, most first (ruff's --statistics)."""
    rows: dict[str, dict] = {}
    for finding in report.findings:
        row = rows.setdefault(finding.rule, {"code": finding.rule, "name": finding.name, "count": 0, "fixable": None})
        row["count"] += 1
        if finding.fix is not None:
            row["fixable"] = finding.fix.tier.value
    return sorted(rows.values(), key=lambda r: (-r["count"], r["code"]))


def _statistics_line(row: dict) -> str:
    tag = f"  [{row['fixable']} fix]" if row["fixable"] else ""
    return f"{row['count']:>5}  {visible(row['code'])}  {visible(row['name'])}{tag}"


def fixes_enumeration(report, diff: bool) -> str:
    """The fixes made (or, for check and --diff, to be made), by file and rule, as ruff's --show-fixes lists them."""
    if report.command == "check":
        entries = [(f.path, f.rule, f.name) for f in report.findings if f.fix is not None]
        heading = ""
    else:
        entries = [(a.path, a.rule, a.name) for a in report.applied]
        heading = "Would fix" if diff else "Fixed"
    if not entries:
        return "No fixes.\n" if report.command != "check" else "Nothing fixable.\n"
    counted = _plural(len(entries), "finding")
    lines = [
        f"{heading} {counted}:"
        if heading
        else f"{counted} with a fix (see --unsafe-fixes for the behaviour-changing ones):"
    ]
    by_file: dict[str, dict[tuple[str, str], int]] = {}
    for path, rule, name in entries:
        counts = by_file.setdefault(path, {})
        counts[(rule, name)] = counts.get((rule, name), 0) + 1
    for path, counts in by_file.items():
        lines.append(inert(f"- {visible(path)}:"))
        lines.extend(
            inert(f"    {n} × {visible(rule)} ({visible(name)})") for (rule, name), n in sorted(counts.items())
        )
    return "\n".join(lines) + "\n"


def _write_lines(report, diff: bool, notes, paint) -> None:
    for fix in report.applied:
        verb = "would fix" if diff or report.command == "check" else "fixed"
        rule = paint(visible(fix.rule), "1;32")
        notes.write(
            inert(f"{visible(fix.path)}:{fix.line}: {rule} {verb}: {visible(fix.description)} [{fix.tier.value}]")
            + "\n"
        )
        for fact in fix.evidence:  # what a behaviour-changing fix rests on
            notes.write(inert(f"    because {visible(fact)}") + "\n")
    for finding in report.findings:
        notes.write(finding_line(finding, paint) + "\n")


def _write_patch(report, out) -> None:
    dpaint = Painter(out)
    terminal = dpaint.on or (hasattr(out, "isatty") and out.isatty())
    # In a GitHub Actions log every line is read for workflow commands; the patch quotes the files.
    changed = [outcome for outcome in report.files if outcome.changed]
    fence = None
    in_actions_log = os.environ.get("GITHUB_ACTIONS") == "true" and out in (sys.stdout, sys.__stdout__)
    if changed and in_actions_log and not terminal:
        import uuid

        fence = uuid.uuid4().hex
        out.write(f"::stop-commands::{fence}\n")
    for outcome in changed:
        # Lines end at LF only: a CR, form feed or line separator inside a line is part of it.
        for line in unified_diff(outcome).split("\n")[:-1]:
            line += "\n"
            if terminal:
                body = line.removesuffix("\r\n").removesuffix("\n")
                line = visible(body, keep="\t") + line[len(body) :]
            if line.startswith("+") and not line.startswith("+++"):
                line = dpaint(line.rstrip("\n"), "32") + "\n"
            elif line.startswith("-") and not line.startswith("---"):
                line = dpaint(line.rstrip("\n"), "31") + "\n"
            out.write(line)
    if fence:
        out.write(f"::{fence}::\n")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def summary(report, diff: bool) -> str:
    findings = report.findings
    scanned = _plural(len(report.files), "file")
    if report.command == "check":
        by_kind = {
            "with a safe fix": sum(1 for f in findings if f.tier is Tier.SAFE),
            "with a behaviour-changing fix": sum(1 for f in findings if f.tier is Tier.BEHAVIOUR_CHANGING),
            "without a fix": sum(1 for f in findings if f.fix is None),
        }
        detail = ", ".join(f"{n} {label}" for label, n in by_kind.items() if n)
        parts = [f"Scanned {scanned}: {_plural(len(findings), 'finding')}" + (f" ({detail})." if detail else ".")]
    else:
        applied = report.applied
        changed = sum(1 for o in report.files if o.changed)
        by_tier = {t: sum(1 for a in applied if a.tier is t) for t in Tier}
        verb, files_verb = ("Would fix", "would change") if diff else ("Fixed", "changed")
        parts = [
            f"Scanned {scanned}. {verb} {len(applied)} ({by_tier[Tier.SAFE]} safe, "
            f"{by_tier[Tier.BEHAVIOUR_CHANGING]} behaviour-changing); {_plural(changed, 'file')} {files_verb}; "
            f"{_plural(len(findings), 'finding')} left."
        ]
    skipped = report.skipped
    if skipped:
        parts.append(f"Skipped {len(skipped)}:")
        parts.extend(
            inert(
                f"  {visible(s.path)}{f':{s.line}' if s.line else ''}: "
                f"{visible(s.rule) + ' ' if s.rule else ''}{visible(s.reason)}"
            )
            for s in skipped
        )
    errors = report.all_errors
    if errors:
        parts.append(f"{_plural(len(errors), 'error')}: those files were left untouched.")
    return "\n".join(parts)
