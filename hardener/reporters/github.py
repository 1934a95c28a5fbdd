"""GitHub Actions output: workflow-command annotations, and a Markdown job summary.

`render` prints one `::error`/`::warning`/`::notice` annotation per finding. GitHub shows at most 10
annotations of each level per step, so past the tenth of a level the rest are printed as plain log
lines and one notice says how many were left out. `job_summary` returns the Markdown for
`$GITHUB_STEP_SUMMARY`.
"""

from __future__ import annotations

from hardener.model import Severity, Tier
from hardener.reporters.escape import log_line, md_code, md_fence, md_text, visible
from hardener.reporters.sarif import relative_path

COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
# GitHub shows 10 warnings and 10 errors per step (and 50 annotations per job).
ANNOTATIONS_PER_LEVEL = 10
# $GITHUB_STEP_SUMMARY takes at most 1 MiB per step.
SUMMARY_LIMIT = 1024 * 1024


def escape_data(text: str) -> str:
    """A workflow command's message: `%`, CR and LF escaped as the runner expects."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: like data, plus `:` and `,`."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str, **properties) -> str:
    """One workflow command; control characters other than line breaks are shown as escapes."""
    props = ",".join(
        f"{key}={escape_property(visible(value))}" for key, value in properties.items() if value is not None
    )
    return f"::{name}{' ' + props if props else ''}::{escape_data(visible(message, keep=chr(13) + chr(10)))}"


def _path(path: str) -> str:
    return relative_path(path)[0]


def _one_line(text: str) -> str:
    # A plain log line: one line, no escape sequences, and never read as a workflow command.
    return log_line(text)


def annotation(finding) -> str:
    line = max(1, finding.line)
    return command(
        COMMANDS[finding.severity],
        finding.message + _fix_note(finding),
        file=_path(finding.path),
        line=line,
        col=max(1, finding.column),
        endLine=max(line, finding.end_line or line),
        title=f"{finding.rule} {finding.name}",
    )


def _fix_note(finding) -> str:
    return f" [{finding.fix.tier.value} fix]" if finding.fix is not None else ""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def summary_line(report, diff: bool) -> str:
    from hardener.reporters.text import summary

    line = summary(report, diff).splitlines()[0]
    if report.skipped:
        line += f" Skipped {len(report.skipped)}."
    if report.all_errors:
        line += f" {_plural(len(report.all_errors), 'error')}: those files were left untouched."
    return _one_line(line)


def render(report, *, diff: bool, out) -> None:
    # The patch is not printed (use --format text or json for it): annotations point at what is left.
    shown = {name: 0 for name in COMMANDS.values()}
    hidden: dict[str, list[str]] = {name: [] for name in COMMANDS.values()}
    lines: list[str] = []
    for error in report.all_errors:
        if shown["error"] < ANNOTATIONS_PER_LEVEL:
            shown["error"] += 1
            lines.append(
                command("error", error.message, file=_path(error.path) if error.path else None, line=error.line or None)
            )
        else:
            hidden["error"].append(_one_line(f"  error {error}"))
    for finding in report.findings:
        level = COMMANDS[finding.severity]
        if shown[level] < ANNOTATIONS_PER_LEVEL:
            shown[level] += 1
            lines.append(annotation(finding))
        else:
            hidden[level].append(
                _one_line(
                    f"  {finding.rule} {_path(finding.path)}:{finding.line}:{finding.column}: "
                    f"{finding.message}{_fix_note(finding)}"
                )
            )
    for level, rest in hidden.items():
        if rest:
            lines.append(
                command(
                    "notice",
                    f"{len(rest)} more {level}s not shown as annotations; see the job summary or the log below",
                )
            )
            lines.extend(rest)
    lines.append(summary_line(report, diff))
    out.write("\n".join(lines) + "\n")


def md_escape(text: str) -> str:
    """Text made safe for one Markdown table cell or list item on GitHub (see escape.md_text)."""
    return md_text(text)


def _fix_cell(finding) -> str:
    if finding.fix is not None:
        return finding.fix.tier.value
    if finding.fix_unavailable:
        return f"no fix: {finding.fix_unavailable}"
    return "report only"


def _tier_key(tier: Tier | None) -> str:
    return tier.value if tier else "report only"


def job_summary(report, *, diff: bool = False, limit: int = SUMMARY_LIMIT) -> str:
    """GitHub-flavoured Markdown for $GITHUB_STEP_SUMMARY, kept under `limit` bytes (UTF-8)."""
    from hardener.reporters.text import summary

    findings = report.findings
    head = ["## hardener", "", md_escape(summary(report, diff).splitlines()[0]), ""]
    tiers = [t.value for t in Tier] + ["report only"]
    counts = {t: 0 for t in tiers}
    for f in findings:
        counts[_tier_key(f.tier)] += 1
    head += ["| | " + " | ".join(tiers) + " |", "|---" * (len(tiers) + 1) + "|"]
    head.append("| findings | " + " | ".join(str(counts[t]) for t in tiers) + " |")
    if report.command == "fix":
        applied = {t: sum(1 for a in report.applied if a.tier.value == t) for t in tiers}
        applied["report only"] = 0
        label = "fixes to apply" if diff else "fixes applied"
        head.append(f"| {label} | " + " | ".join(str(applied[t]) for t in tiers) + " |")
    head.append("")

    sections: list[tuple[list[str], list[str], str]] = []
    if findings:
        rows = [
            f"| {md_code(_path(f.path), table=True)} | {f.line} | {md_escape(f.rule)} {md_escape(f.name)} "
            f"| {f.severity.value} | {md_escape(f.message)} | {md_escape(_fix_cell(f))} |"
            for f in findings
        ]
        header = ["### Findings", "", "| file | line | rule | severity | message | fix |", "|---|---|---|---|---|---|"]
        sections.append((header, rows, "findings"))
    if report.skipped:
        rows = [
            f"- {md_code(_path(s.path))}{f':{s.line}' if s.line else ''}: "
            f"{md_escape(s.rule) + ' ' if s.rule else ''}{md_escape(s.reason)}"
            for s in report.skipped
        ]
        sections.append((["### Skipped", ""], rows, "skipped items"))
    if report.all_errors:
        rows = [
            f"- {md_code(_path(e.path)) if e.path else '(input)'}{f':{e.line}' if e.line else ''}: "
            f"{md_escape(e.message)}"
            for e in report.all_errors
        ]
        sections.append((["### Errors (those files were left untouched)", ""], rows, "errors"))

    def size(lines: list[str]) -> int:
        return sum(len(line.encode()) + 1 for line in lines)

    out = head
    used = size(out)
    reserve = 200  # room for a truncation note
    for header, rows, what in sections:
        if used + size(header) + reserve > limit:
            out.append(f"_{_plural(len(rows), what.rstrip('s'))} not shown: the summary is limited to 1 MiB._")
            used = size(out)
            continue
        out += header
        used += size(header)
        for i, row in enumerate(rows):
            row_size = len(row.encode()) + 1
            if used + row_size + reserve > limit:
                rest = len(rows) - i
                out += ["", f"_{rest} more {what} not shown: the summary is limited to 1 MiB; run hardener locally._"]
                used += size(out[-2:])
                break
            out.append(row)
            used += row_size
        out.append("")
        used += 1
    return "\n".join(out)


def suggestion_annotations(suggestions, out) -> None:
    """Would-be review suggestions (a read-only token cannot post them) as notices at their lines.

    Each notice's text is the suggested replacement. Past GitHub's ten notices per step the rest are
    plain log lines, and one notice says how many.
    """
    lines: list[str] = []
    rest: list[str] = []
    for suggestion in suggestions:
        rules = ", ".join(suggestion.rules)
        if len(lines) < ANNOTATIONS_PER_LEVEL:
            lines.append(
                command(
                    "notice",
                    f"hardener suggests ({rules}):\n{suggestion.replacement}",
                    file=_path(suggestion.path),
                    line=suggestion.start_line,
                    endLine=suggestion.line,
                    title=f"{rules} suggestion",
                )
            )
        else:
            where = f"{_path(suggestion.path)}:{suggestion.start_line}-{suggestion.line}"
            rest.append(_one_line(f"  suggestion {where} ({rules}): {suggestion.replacement}"))
    if rest:
        lines.append(command("notice", f"{len(rest)} more suggestions not shown as annotations; see the job summary"))
        lines.extend(rest)
    if lines:
        out.write("\n".join(lines) + "\n")


def suggestions_summary(suggestions, note: str, *, limit: int = SUMMARY_LIMIT) -> str:
    """Would-be review suggestions as fenced diffs for the job summary, kept under `limit` bytes (UTF-8).

    `note` says why they are not review comments. A suggestion's `why` is Markdown made safe already.
    """
    out = ["### Suggestions", "", md_escape(note), ""]
    used = sum(len(line.encode()) + 1 for line in out)
    reserve = 200  # room for a truncation note
    for i, suggestion in enumerate(suggestions):
        where = (
            str(suggestion.start_line)
            if suggestion.start_line == suggestion.line
            else f"{suggestion.start_line}-{suggestion.line}"
        )
        diff = suggestion.diff()
        # A fence longer than any backtick run in the diff: no line of the file can end the block.
        fence = md_fence(diff)
        block = [
            f"{md_code(_path(suggestion.path))} line {where}:",
            "",
            suggestion.why,
            "",
            f"{fence}diff",
            diff,
            fence,
            "",
        ]
        size = sum(len(line.encode()) + 1 for line in block)
        if used + size + reserve > limit:
            rest = len(suggestions) - i
            out.append(f"_{_plural(rest, 'more suggestion')} not shown: the summary is limited to 1 MiB._")
            break
        out += block
        used += size
    return "\n".join(out)
