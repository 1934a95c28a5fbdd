"""SARIF 2.1.0 output, for GitHub code scanning (`github/codeql-action/upload-sarif`) and other viewers.

One run per document. Every rule is described in `tool.driver.rules`, with a `helpUri` to its page in
`docs/rules/`; every finding is a result with a location relative to the current directory
(`%SRCROOT%`), a line-hash fingerprint that survives lines added elsewhere in the file, and, when
hardener can fix it, the fix as SARIF `fixes`. No file content is copied except a fix's own inserted text.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from hardener import __version__
from hardener.model import Severity
from hardener.reporters.escape import file_uri, json_text, uri_path, visible
from hardener.textedit import LineIndex

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/hardener/hardener"
SRCROOT = "%SRCROOT%"

LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
# GitHub reads `security-severity` (0.1-10.0) to rank alerts: 7.0+ high, 4.0+ medium, below that low.
SECURITY_SEVERITY = {Severity.ERROR: "7.5", Severity.WARNING: "5.0", Severity.INFO: "2.0"}


def relative_path(path: str) -> tuple[str, bool]:
    """(path relative to the current directory with forward slashes, whether it lies inside it).

    A path outside the current directory comes back absolute.
    """
    absolute = os.path.abspath(path)
    try:
        rel = os.path.relpath(absolute)
    except ValueError:  # another drive on Windows
        return Path(absolute).as_posix(), False
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        return Path(absolute).as_posix(), False
    return rel.replace(os.sep, "/"), True


def artifact_location(path: str) -> dict:
    rel, inside = relative_path(path)
    if inside:
        return {"uri": uri_path(rel), "uriBaseId": SRCROOT}
    return {"uri": file_uri(rel)}


def _fix_tier_text(rule) -> str:
    if rule.tier is None:
        return "Fix: report only (hardener changes nothing)."
    return f"Fix: {rule.tier.value} (`hardener fix{' --unsafe-fixes' if rule.tier.value != 'safe' else ''}`)."


def rule_descriptor(rule) -> dict:
    references = ", ".join(rule.references)
    text = f"{rule.rationale}\n\nReferences: {references or 'none'}.\n{_fix_tier_text(rule)}"
    markdown = (
        f"**{rule.id} {rule.name}**: {rule.summary}\n\n{rule.rationale}\n\n"
        + ("References:\n" + "".join(f"- {r}\n" for r in rule.references) + "\n" if rule.references else "")
        + _fix_tier_text(rule)
        + f"\n\n[{rule.id} documentation, with examples]({rule.help_uri()})"
    )
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.rationale},
        "help": {"text": text, "markdown": markdown},
        # The rule's generated page (docs/rules/), which code scanning links from the alert.
        "helpUri": rule.help_uri(),
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {
            "tags": ["security", rule.kind, rule.fix_kind().replace(" ", "-")],
            "security-severity": SECURITY_SEVERITY[rule.severity],
            "precision": "high",
        },
    }


def line_hash(rule: str, path: str, text: str, occurrence: int = 1) -> str:
    """`primaryLocationLineHash`: depends on the rule, the file and the line's own text, never its number.

    `occurrence` tells apart identical lines with the same finding in one file, in order.
    """
    # surrogatepass: a file name that is not UTF-8 (surrogate escapes) still hashes, the same way each run.
    digest = hashlib.sha256(f"{rule}\0{path}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{digest}:{occurrence}"


def _fingerprint_text(finding, index: LineIndex) -> str:
    # A secret rule's line holds the secret: a hash of it would let anyone holding the report test
    # guesses offline. Its message names the variable without the value and is just as stable.
    if "secret" in finding.name:
        return finding.message
    if 1 <= finding.line <= index.line_count:
        return index.line_text(finding.line).strip()
    return ""


def _region(start: tuple[int, int], end: tuple[int, int]) -> dict:
    return {"startLine": start[0], "startColumn": start[1], "endLine": end[0], "endColumn": end[1]}


def _fixes(finding, index: LineIndex, location: dict) -> list[dict]:
    fix = finding.fix
    replacements = [
        {
            "deletedRegion": _region(index.position(e.start), index.position(e.end)),
            "insertedContent": {"text": e.content},
        }
        for e in sorted(fix.edits)
    ]
    return [
        {
            "description": {"text": visible(f"{fix.description} [{fix.tier.value} fix]")},
            "artifactChanges": [{"artifactLocation": dict(location), "replacements": replacements}],
        }
    ]


def results_for(outcome, rule_index: dict[str, int]) -> list[dict]:
    index = LineIndex(outcome.fixed)  # findings are located in the text they were found in
    seen: dict[tuple[str, str], int] = {}
    results = []
    for finding in outcome.findings:
        location = artifact_location(finding.path or outcome.target.path)
        rel = relative_path(finding.path or outcome.target.path)[0]
        text = _fingerprint_text(finding, index)
        seen[(finding.rule, text)] = occurrence = seen.get((finding.rule, text), 0) + 1
        line = max(1, finding.line)
        result = {
            "ruleId": finding.rule,
            "level": LEVELS[finding.severity],
            "message": {"text": visible(finding.message)},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": location,
                        "region": {
                            "startLine": line,
                            "startColumn": max(1, finding.column),
                            "endLine": max(line, finding.end_line or line),
                        },
                    }
                }
            ],
            "partialFingerprints": {"primaryLocationLineHash": line_hash(finding.rule, rel, text, occurrence)},
        }
        if finding.rule in rule_index:
            result["ruleIndex"] = rule_index[finding.rule]
        properties = {"role": finding.role} if finding.role else {}
        if finding.fix is not None:
            result["fixes"] = _fixes(finding, index, location)
            if finding.fix.evidence:
                properties["evidence"] = [visible(e) for e in finding.fix.evidence]
        elif finding.fix_unavailable:
            properties["fixUnavailable"] = visible(finding.fix_unavailable)
        if properties:
            result["properties"] = properties
        results.append(result)
    return results


def document(report) -> dict:
    from hardener.rules import ALL_RULES

    rule_index = {r.id: i for i, r in enumerate(ALL_RULES)}
    results = [r for outcome in report.files for r in results_for(outcome, rule_index)]
    notifications = []
    for error in report.all_errors:
        notification: dict[str, object] = {"level": "error", "message": {"text": visible(error.message)}}
        if error.path:
            physical: dict[str, object] = {"artifactLocation": artifact_location(error.path)}
            if error.line:
                physical["region"] = {"startLine": error.line}
            notification["locations"] = [{"physicalLocation": physical}]
        notifications.append(notification)
    invocation: dict[str, object] = {"executionSuccessful": True}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "hardener",
                        "informationUri": INFORMATION_URI,
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": [rule_descriptor(r) for r in ALL_RULES],
                    }
                },
                "automationDetails": {"id": "hardener/"},
                "originalUriBaseIds": {SRCROOT: {"uri": file_uri(os.getcwd()).rstrip("/") + "/"}},
                # Columns count characters (Python's str), not UTF-16 code units.
                "columnKind": "unicodeCodePoints",
                "invocations": [invocation],
                "results": results,
            }
        ],
    }


def render(report, *, diff: bool, out) -> None:
    # `diff` changes nothing here: each result carries its own fix.
    out.write(json_text(document(report)) + "\n")
