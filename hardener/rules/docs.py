"""The rule documentation: one Markdown page per rule and an index, generated from the rule classes.

    python -m hardener.rules.docs            # (re)write docs/rules/ (run from the repository root)
    python -m hardener.rules.docs --check    # exit 1, naming them, if any page is stale, missing or extra

Everything on a page comes from the rule's class: its metadata, rationale, references, hadolint codes and
its own `valid` and `invalid` examples, the same examples `tests/test_rule_examples.py` runs, so a page
cannot show a fix the rule does not make. `pages()` builds the text and touches no file; only `main`
reads and writes the folder.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

from hardener import linediff
from hardener.kinds import KIND_MODULES, kind_named
from hardener.reporters.escape import md_fence
from hardener.rules.base import RULE_DOCS_FOLDER, Example, Rule

REGENERATE = "python -m hardener.rules.docs"
INDEX = "README.md"
# The code-block language of each kind's examples; a kind not listed gets plain blocks.
_LANGUAGES = {"dockerfile": "dockerfile", "compose": "yaml", "python": "python"}


def _generated_note(rule: type[Rule] | None = None) -> str:
    source = f" from `{_source_path(rule)}`" if rule else " from the rule classes"
    return f"<!-- Generated{source} by `{REGENERATE}`: edit the rule, not this file. -->"


def _source_path(rule: type[Rule]) -> str:
    return rule.__module__.replace(".", "/") + ".py"


def _fix_text(rule: type[Rule]) -> str:
    if rule.tier is None:
        return "report only: hardener points at the problem and changes nothing"
    if rule.tier.value == "safe":
        return "safe: `hardener fix` applies it, and the container behaves the same"
    return (
        f"{rule.tier.value}: applied only with `hardener fix --unsafe-fixes` (or `unsafe-fixes = true`), "
        "since it changes how the container runs"
    )


def _block(text: str, language: str) -> list[str]:
    fence = md_fence(text)
    body = text if text.endswith("\n") else text + "\n"
    return [f"{fence}{language}", *body.splitlines(), fence]


def _diff(before: str, after: str) -> list[str]:
    """The whole example as one diff: short examples read best with every line as context."""
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    lines = []
    for line in linediff.unified_diff(a, b, "before", "after", n=max(len(a), len(b))):
        if line.startswith(("--- ", "+++ ", "@@ ")):
            continue
        text = line.rstrip("\r\n")
        lines.append("" if text == " " else text)  # an empty context line, without trailing whitespace
        if not line.endswith("\n"):
            lines.append("\\ No newline at end of file")
    fence = md_fence("\n".join(lines))
    return [f"{fence}diff", *lines, fence]


def examples_of(rule: type[Rule]) -> dict[str, tuple[tuple[str, ...], tuple[Example, ...]]]:
    """The rule's (valid, invalid) examples by the kind whose syntax they are in.

    A rule of one kind has its `valid` and `invalid`; a rule of every kind may give examples in several
    kinds' syntax (`examples_in`).
    """
    return dict(getattr(rule, "examples_in", None) or {rule.kind: (rule.valid, rule.invalid)})


def _examples(rule: type[Rule]) -> list[str]:
    out = ["## Examples", ""]
    by_kind = {kind: examples for kind, examples in examples_of(rule).items() if examples[0] or examples[1]}
    if not by_kind:
        return [*out, "This rule has no examples of its own.", ""]
    level = "###" if len(by_kind) == 1 else "####"
    for kind, (valid, invalid) in by_kind.items():
        language = _LANGUAGES.get(kind, "")
        if len(by_kind) > 1:
            out += [f"### {_kind_plural(kind)}", ""]
        fixed = [(e.before, e.after) for e in invalid if e.after is not None and e.after != e.before]
        reported = [e for e in invalid if e.after is None or e.after == e.before]
        if fixed:
            tier = f" ({rule.tier.value} fix)" if rule.tier else ""
            out += [f"{level} Reported and fixed{tier}", ""]
            for before, after in fixed:
                out += [*_diff(before, after), ""]
        if reported:
            out += [f"{level} Reported, without a fix" if rule.tier else f"{level} Reported", ""]
            for example in reported:
                out += [*_block(example.before, language), ""]
        if valid:
            out += [f"{level} Not reported", ""]
            for source in valid:
                out += [*_block(source, language), ""]
    return out


def _kind_plural(kind: str) -> str:
    return kind_named(kind).plural if kind in KIND_MODULES else kind


def _applies_to(rule: type[Rule]) -> str:
    if rule.kind in KIND_MODULES:
        return f"{_kind_plural(rule.kind)} (kind `{rule.kind}`)"
    return "every kind of file: " + ", ".join(_kind_plural(kind) for kind in KIND_MODULES)


def rule_page(rule: type[Rule]) -> str:
    rows = [
        ("Applies to", _applies_to(rule)),
        ("Severity", rule.severity.value),
        ("Fix", _fix_text(rule)),
    ]
    if getattr(rule, "opt_in", False):
        rows.append(("Enabled", "only when selected: by id, name, prefix or `ALL`"))
    elif rule.requires_setting:
        setting = rule.requires_setting.replace("_", "-")
        rows.append(("Enabled", f"only when `{setting}` is set, or when selected by id or name"))
    if rule.pins_images:
        rows.append(("Registry", "asks the registry for digests (or reads the digest cache and lock file)"))
    if rule.hadolint:
        rows.append(("hadolint", ", ".join(f"`{code}`" for code in rule.hadolint)))
    rows.append(("Source", f"[`{_source_path(rule)}`](../../{_source_path(rule)})"))

    lines = [
        _generated_note(rule),
        "",
        f"# {rule.id} {rule.name}",
        "",
        rule.summary,
        "",
        "| | |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in rows),
        "",
        "## Why",
        "",
        rule.rationale,
        "",
    ]
    if rule.references:
        lines += ["## References", "", *(f"- {reference}" for reference in rule.references), ""]
    lines += _examples(rule)
    lines += [
        "## Selecting and suppressing",
        "",
        f"`--select {rule.id}` (or `--select {rule.name}`) runs only this rule and `--ignore {rule.id}` skips it;"
        " both also go in the settings file.",
        f"A `# hardener: ignore={rule.id}` comment above what a finding is about silences it there, and"
        f" `# hardener: global ignore={rule.id}` anywhere in the file silences it for the whole file.",
    ]
    if rule.hadolint:
        codes = ",".join(rule.hadolint)
        lines.append(f"An existing `# hadolint ignore={codes}` pragma silences it too.")
    lines += ["", f"[All rules]({INDEX})", ""]
    return "\n".join(lines)


def index_page(rules: Iterable[type[Rule]]) -> str:
    lines = [
        _generated_note(),
        "",
        "# Rules",
        "",
        "Every rule hardener has, one page each: what it checks, why, its references, and examples of what",
        "it reports and how it fixes it. On the command line, `hardener rules` lists them and",
        "`hardener explain RULE` prints one rule's rationale and an example.",
        "",
        "| id | name | applies to | fix | severity | summary |",
        "|---|---|---|---|---|---|",
    ]
    for rule in rules:
        summary = rule.summary.replace("|", "\\|")  # a pipe would end the cell
        lines.append(
            f"| [{rule.id}]({rule.doc_name()}) | {rule.name} | {rule.kind} | {rule.fix_kind()} | "
            f"{rule.severity.value} | {summary} |"
        )
    lines += ["", f"Regenerate these pages with `{REGENERATE}` from the repository root.", ""]
    return "\n".join(lines)


def pages(rules: Iterable[type[Rule]] | None = None) -> dict[str, str]:
    """Every page of the rule documentation folder: file name -> text."""
    if rules is None:
        from hardener.rules import all_rules

        rules = all_rules()
    rules = list(rules)
    generated = {rule.doc_name(): rule_page(rule) for rule in rules}
    generated[INDEX] = index_page(rules)
    return generated


def differences(folder: Path, expected: dict[str, str]) -> list[str]:
    """The files of the folder that are stale, missing or extra, each with what is wrong."""
    present = {p.name: p for p in folder.iterdir() if p.is_file()} if folder.is_dir() else {}
    problems = []
    for name in sorted(expected.keys() | present.keys()):
        if name not in present:
            problems.append(f"{name}: missing")
        elif name not in expected:
            problems.append(f"{name}: not a page of any rule")
        elif present[name].read_bytes() != expected[name].encode("utf-8"):
            problems.append(f"{name}: stale")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=REGENERATE, description="Generate the rule documentation.")
    parser.add_argument("folder", nargs="?", default=RULE_DOCS_FOLDER, help=f"default: {RULE_DOCS_FOLDER}")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a page is out of date")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    expected = pages()
    problems = differences(folder, expected)
    if args.check:
        for problem in problems:
            sys.stdout.write(f"{folder.as_posix()}/{problem}\n")
        if problems:
            sys.stdout.write(f"Run `{REGENERATE}` to update them.\n")
        return 1 if problems else 0
    folder.mkdir(parents=True, exist_ok=True)
    for name in sorted(set(p.name for p in folder.iterdir() if p.is_file()) - expected.keys()):
        (folder / name).unlink()  # the page of a rule that no longer exists
    for name, text in expected.items():
        path = folder / name
        if not path.is_file() or path.read_bytes() != text.encode("utf-8"):
            path.write_bytes(text.encode("utf-8"))
    sys.stdout.write(f"{folder.as_posix()}: {len(expected)} pages, {len(problems)} updated\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
