"""The edit engine: exact-offset edits, overlap deferral, rounds, and verification."""

import pytest

from hardener import engine
from hardener.config import Config
from hardener.model import Edit, Fix, Severity, Tier
from hardener.rules.base import Rule
from hardener.textedit import LineIndex, apply_edits, map_back, select_non_overlapping


def fix(start, end, content="x", scope=None):
    return Fix(Tier.SAFE, (Edit(start, end, content),), f"{start}-{end}", scope)


def test_apply_edits_in_one_pass():
    assert apply_edits("abcdef", [Edit(4, 5, "E"), Edit(0, 1, "A"), Edit.insert(3, "+")]) == "Abc+dEf"
    with pytest.raises(ValueError):
        apply_edits("abc", [Edit(0, 2, ""), Edit(1, 3, "")])


def test_overlapping_fixes_wait_for_the_next_round():
    accepted, deferred = select_non_overlapping([fix(0, 3), fix(2, 5), fix(5, 6), fix(6, 6), fix(6, 6, "y")])
    assert [f.description for f in accepted] == ["0-3", "5-6"]
    assert sorted(f.description for f in deferred) == ["2-5", "6-6", "6-6"]


def test_scopes_keep_fixes_of_one_instruction_apart():
    a = fix(10, 10, scope=(0, 20))
    b = fix(20, 20, scope=(0, 20))
    c = fix(25, 25)
    accepted, deferred = select_non_overlapping([a, b, c])
    assert accepted == [a, c] and deferred == [b]


def test_map_back_through_edits():
    edits = [Edit(2, 4, "XYZ"), Edit.insert(6, "++")]
    # "ab" "XYZ" "ef" "++" "gh"  <-  "abcdefgh"
    assert map_back(0, edits) == 0
    assert map_back(3, edits) == 2  # inside inserted text
    assert map_back(5, edits) == 4
    assert map_back(10, edits) == 7


def test_line_index():
    index = LineIndex("a\r\nbb\nc")
    assert index.line_count == 3
    assert index.position(4) == (2, 2)
    assert index.line_text(1) == "a" and index.line_text(1, keep_eol=True) == "a\r\n"
    assert LineIndex("a\n").line_count == 1


class BreaksTheFile(Rule):
    """A deliberately faulty rule: its fix produces an invalid Dockerfile."""

    id = "HD900"
    name = "breaks-the-file"
    kind = "dockerfile"
    summary = "test rule"
    tier = Tier.SAFE
    severity = Severity.WARNING
    rationale = "x" * 80
    references = ("test",)

    def check(self, document, context):
        instr = document.instructions[-1]
        if instr.keyword != "BOGUS":
            yield self.finding(instr.start_line, "bad", edits=[Edit(instr.start, instr.start, "BOGUS x\n")])


class NeverSettles(BreaksTheFile):
    id = "HD901"

    def check(self, document, context):
        yield self.finding(1, "again", edits=[Edit.insert(len(document.text), "\n# more")])


@pytest.mark.parametrize(
    "rule,reason",
    [(BreaksTheFile, "does not parse"), (NeverSettles, "did not settle")],
)
def test_failed_verification_leaves_text_untouched(monkeypatch, rule, reason):
    monkeypatch.setattr(engine, "selected_rules", lambda config, kind: [rule()])
    text = "FROM debian:12\nRUN true\n"
    result = engine.fix_text(text, "Dockerfile", Config())
    assert result.fixed == text and not result.changed
    assert reason in result.verification_error
    assert any(reason in s.reason for s in result.skipped)


def test_heredoc_change_is_refused(monkeypatch):
    class EditsHeredoc(BreaksTheFile):
        def check(self, document, context):
            if "echo hi" in document.text:
                body = document.text.index("echo hi")
                yield self.finding(2, "x", edits=[Edit(body, body + 7, "echo bye")])

    monkeypatch.setattr(engine, "selected_rules", lambda config, kind: [EditsHeredoc()])
    text = "FROM debian:12\nRUN <<EOF\necho hi\nEOF\n"
    result = engine.fix_text(text, "Dockerfile", Config())
    assert result.fixed == text and "heredoc" in result.verification_error


def test_fixes_repeat_until_nothing_changes():
    text = "FROM debian:12\nRUN apt-get update\nRUN apt-get upgrade -y\nRUN apt-get install curl\n"
    result = engine.fix_text(text, "Dockerfile", Config(select=("HD102", "HD103", "HD104")))
    assert result.fixed == (
        "FROM debian:12\nRUN apt-get update && \\\n    apt-get upgrade -y && \\\n    apt-get install -y curl && \\\n"
        "    rm -rf /var/lib/apt/lists/*\n"
    )
    # Applied fixes are located in the original text, whichever round made them.
    assert [(a.rule, a.line) for a in result.applied] == [("HD102", 2), ("HD102", 2), ("HD104", 2), ("HD103", 4)]


def test_locality_check_catches_a_change_no_edit_made():
    from hardener.model import VerificationError

    engine._verify_locality("a\nb\nc\n", "A\nb\nc\n", [Edit(0, 1, "A")])
    with pytest.raises(VerificationError, match="line 3 changed outside any fix"):
        engine._verify_locality("a\nb\nc\n", "A\nb\nC\n", [Edit(0, 1, "A")])
    with pytest.raises(VerificationError, match="line 3 changed outside any fix"):
        engine._verify_locality("a\nb\n", "A\nb\nextra", [Edit(0, 1, "A")])
    # Repeated identical lines do not confuse it (a line-diff would misalign them).
    text = "x\n\n\nx\n\n\nx\n"
    engine._verify_locality(text, "y\n" + text[2:], [Edit(0, 1, "y")])
