"""docs/rules/ is generated from the rule classes and kept in step with them."""

import re

import pytest

from hardener.rules import all_rules
from hardener.rules.base import RULE_DOCS_FOLDER
from hardener.rules.docs import INDEX, REGENERATE, differences, examples_of, main, pages

from .conftest import ROOT

DOCS = ROOT / RULE_DOCS_FOLDER


def test_docs_rules_is_up_to_date():
    problems = differences(DOCS, pages())
    assert not problems, f"{RULE_DOCS_FOLDER}/ is out of date; run `{REGENERATE}`:\n" + "\n".join(problems)


def test_there_is_one_page_per_rule_and_an_index():
    generated = pages()
    assert set(generated) == {r.doc_name() for r in all_rules()} | {INDEX}
    index = generated[INDEX]
    linked = re.findall(r"^\| \[(HD\d+)\]\((HD\d+\.md)\) \|", index, re.M)
    assert linked == [(r.id, r.doc_name()) for r in all_rules()]


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.id)
def test_a_page_says_everything_the_class_says(rule):
    page = pages([rule])[rule.doc_name()]
    assert page.splitlines()[2] == f"# {rule.id} {rule.name}"
    assert rule.summary in page and rule.rationale in page
    assert f"| Severity | {rule.severity.value} |" in page
    assert rule.fix_kind().split()[0] in page.split("| Fix |", 1)[1].split("\n", 1)[0]
    assert all(f"- {reference}" in page for reference in rule.references)
    assert all(f"`{code}`" in page for code in rule.hadolint)
    source = page.split("| Source | [`", 1)[1].split("`", 1)[0]
    assert (ROOT / source).is_file() and source.endswith(rule.__module__.rsplit(".", 1)[-1] + ".py")
    # Every example is on the page: a fixed one as a diff that turns its before into its after.
    diffs = [(_old(d), _new(d)) for d in _fenced(page, "diff")]
    for valid, invalid in examples_of(rule).values():
        for example in invalid:
            if example.after is not None and example.after != example.before:
                assert (example.before.splitlines(), example.after.splitlines()) in diffs
            else:
                assert example.before.rstrip("\n") in page
        for source in valid:
            assert source.rstrip("\n") in page


def _fenced(page: str, language: str) -> list[list[str]]:
    """The lines of each fenced block in that language."""
    return [body.splitlines() for _, body in re.findall(rf"^(`{{3,}}){language}\n(.*?)\n\1$", page, re.M | re.S)]


def _old(diff_lines: list[str]) -> list[str]:
    return [line[1:] for line in diff_lines if line[:1] in ("", " ", "-")]  # an empty line is empty context


def _new(diff_lines: list[str]) -> list[str]:
    return [line[1:] for line in diff_lines if line[:1] in ("", " ", "+")]


def test_pages_have_no_trailing_whitespace():
    for name, text in pages().items():
        assert not [n for n, line in enumerate(text.splitlines(), 1) if line != line.rstrip()], name


def test_the_regenerate_command_writes_the_pages_and_removes_a_stale_one(tmp_path, capsys):
    folder = tmp_path / "rules"
    assert main(["--check", str(folder)]) == 1
    assert REGENERATE in capsys.readouterr().out
    assert main([str(folder)]) == 0
    assert differences(folder, pages()) == []
    (folder / "HD999.md").write_text("a rule that was removed\n")
    first = sorted(pages())[0]
    (folder / first).write_text("edited by hand\n")
    assert main(["--check", str(folder)]) == 1
    out = capsys.readouterr().out
    assert f"{first}: stale" in out and "HD999.md: not a page of any rule" in out
    assert main([str(folder)]) == 0
    assert not (folder / "HD999.md").exists() and main(["--check", str(folder)]) == 0


def test_help_uri_names_the_generated_page_on_github():
    for rule in all_rules():
        assert rule.help_uri() == f"https://github.com/hardener/hardener/blob/main/docs/rules/{rule.id}.md"
        assert (DOCS / rule.doc_name()).is_file()


def test_contributing_names_the_regenerate_command():
    assert f"`{REGENERATE}`" in (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")


def test_a_rule_of_every_kind_shows_its_examples_in_each_kinds_syntax():
    from hardener.model import Severity
    from hardener.rules.base import Example, Rule

    class UnusedPragma(Rule):
        id = "HD990"
        name = "unused-pragma"
        kind = "common"
        summary = "A suppression that silences nothing"
        severity = Severity.INFO
        rationale = "A pragma that matches no finding hides the next real one."
        references = ("hardener",)
        opt_in = True
        examples_in = {
            "dockerfile": (("FROM debian:12\n",), (Example("# hardener: ignore=HD108\nFROM debian:12\n"),)),
            "compose": ((), (Example("# hardener: ignore=HD201\nservices: {}\n"),)),
        }

    page = pages([UnusedPragma])["HD990.md"]
    assert "| Applies to | every kind of file: Dockerfiles, Compose files, Python modules |" in page
    assert "| Enabled | only when selected" in page
    dockerfiles, compose = page.split("### Dockerfiles\n", 1)[1].split("### Compose files\n", 1)
    assert "```dockerfile\n# hardener: ignore=HD108\nFROM debian:12\n```" in dockerfiles
    assert "#### Not reported\n\n```dockerfile\nFROM debian:12\n```" in dockerfiles
    assert "```yaml\n# hardener: ignore=HD201\nservices: {}\n```" in compose
