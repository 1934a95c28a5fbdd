"""Human-readable output: one line per finding, a unified diff, and a closing summary."""

from __future__ import annotations

import difflib
import os
import sys

from hardener.model import Tier


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
    return f"{f.path}:{f.line}:{f.column}: {paint(f.rule, '1;31' if f.severity.value == 'error' else '1;33')} {f.message}{tag}"


def unified_diff(outcome) -> str:
    path = outcome.target.path.replace(os.sep, "/").lstrip("/")
    # The byte-order mark belongs to the first line, so `git apply` finds its context.
    bom = "\ufeff" if outcome.bom else ""
    lines = difflib.unified_diff(
        (bom + outcome.original).splitlines(keepends=True),
        (bom + outcome.fixed).splitlines(keepends=True),
        fromfile=f"a/{path}",
        tofile=f"b/{path}",
    )
    out = []
    for line in lines:
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    return "".join(out)


def render(report, *, diff: bool, out=None, err=None) -> None:
    out = out or sys.stdout
    err = err or sys.stderr
    # With --diff the patch owns stdout, so it can be piped to `git apply`.
    notes = err if diff else out
    paint = Painter(notes)
    if diff:
        dpaint = Painter(out)
        for outcome in report.files:
            if outcome.changed:
                for line in unified_diff(outcome).splitlines(keepends=True):
                    if line.startswith("+") and not line.startswith("+++"):
                        line = dpaint(line.rstrip("\n"), "32") + "\n"
                    elif line.startswith("-") and not line.startswith("---"):
                        line = dpaint(line.rstrip("\n"), "31") + "\n"
                    out.write(line)
    for fix in report.applied:
        verb = "would fix" if diff or report.command == "check" else "fixed"
        notes.write(f"{fix.path}:{fix.line}: {paint(fix.rule, '1;32')} {verb}: {fix.description} [{fix.tier.value}]\n")
    for finding in report.findings:
        notes.write(finding_line(finding, paint) + "\n")
    for error in report.all_errors:
        notes.write(f"{paint('error', '1;31')}: {error}\n")
    notes.write(summary(report, diff) + "\n")


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
            f"  {s.path}{f':{s.line}' if s.line else ''}: {s.rule + ' ' if s.rule else ''}{s.reason}" for s in skipped
        )
    errors = report.all_errors
    if errors:
        parts.append(f"{_plural(len(errors), 'error')}: those files were left untouched.")
    return "\n".join(parts)
