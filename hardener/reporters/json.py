"""Machine-readable output: one JSON document per run."""

from __future__ import annotations

from hardener import __version__
from hardener.reporters.escape import json_text
from hardener.reporters.text import unified_diff
from hardener.textedit import LineIndex


def _edits(finding, index: LineIndex) -> list[dict]:
    out = []
    for e in finding.fix.edits:
        (sl, sc), (el, ec) = index.position(e.start), index.position(e.end)
        out.append({"start": {"line": sl, "column": sc}, "end": {"line": el, "column": ec}, "content": e.content})
    return out


def finding_dict(finding, index: LineIndex) -> dict:
    fix = None
    if finding.fix is not None:
        fix = {"tier": finding.fix.tier.value, "description": finding.fix.description, "edits": _edits(finding, index)}
    return {
        "rule": finding.rule,
        "name": finding.name,
        "path": finding.path,
        "line": finding.line,
        "column": finding.column,
        "end_line": finding.end_line or finding.line,
        "message": finding.message,
        "severity": finding.severity.value,
        "fix": fix,
        "fix_unavailable": finding.fix_unavailable,
        "role": finding.role,
        "evidence": list(finding.fix.evidence if finding.fix is not None else finding.evidence),
    }


def render(report, *, diff: bool, out, statistics: bool = False) -> None:
    if statistics:
        from hardener.reporters.text import statistics_rows

        # As ruff's --statistics in JSON: one object per rule with its count.
        out.write(json_text(statistics_rows(report)) + "\n")
        return
    findings: list[dict] = []
    files: list[dict] = []
    for outcome in report.files:
        index = LineIndex(outcome.fixed)  # findings are located in the text they were found in
        findings.extend(finding_dict(f, index) for f in outcome.findings)
        entry = {
            "path": outcome.target.path,
            "kind": outcome.target.kind,
            "changed": outcome.changed,
            "written": outcome.written,
        }
        if outcome.role is not None:
            entry["role"] = outcome.role.role.value
            entry["role_reason"] = outcome.role.reason
        if diff and outcome.changed:
            entry["diff"] = unified_diff(outcome)
        files.append(entry)
    document = {
        "version": __version__,
        "command": report.command,
        "files": files,
        "findings": findings,
        "fixes": [
            {
                "rule": a.rule,
                "name": a.name,
                "path": a.path,
                "line": a.line,
                "tier": a.tier.value,
                "description": a.description,
                "evidence": list(a.evidence),
                "requires": list(a.requires),
            }
            for a in report.applied
        ],
        "skipped": [{"rule": s.rule, "path": s.path, "line": s.line, "reason": s.reason} for s in report.skipped],
        "errors": [{"path": e.path, "line": e.line, "message": e.message} for e in report.all_errors],
        "summary": {
            "files_scanned": len(report.files),
            "findings": len(findings),
            "fixes_applied": len(report.applied),
            "files_changed": sum(1 for o in report.files if o.changed),
            "errors": len(report.all_errors),
        },
    }
    # Strings as found, except bytes that are not UTF-8 in a file name: those read `\xNN`.
    out.write(json_text(document) + "\n")
