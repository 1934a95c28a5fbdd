"""Applied fixes keep their own edits in the original text, and fixed lines map back to the original's."""

from hardener import fix_text
from hardener.config import Config
from hardener.textedit import apply_edits

SPLIT_APT = 'FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl\nCMD ["bash"]\n'


def test_each_applied_fix_alone_reproduces_its_part_of_the_fixed_text():
    result = fix_text(SPLIT_APT, "Dockerfile", Config(unsafe_fixes=True))
    assert len(result.applied) >= 2
    for applied in result.applied:
        assert applied.edits, f"{applied.rule} kept no edits"
        alone = apply_edits(SPLIT_APT, list(applied.edits))
        assert alone != SPLIT_APT
        # Whatever one fix adds appears in the fully fixed text too.
        for edit in applied.edits:
            for line in edit.content.splitlines():
                assert line in result.fixed


def test_fixed_lines_map_back_to_the_original_lines():
    result = fix_text(SPLIT_APT, "Dockerfile", Config(unsafe_fixes=True))
    fixed_lines = result.fixed.splitlines()
    cmd_fixed = next(i for i, line in enumerate(fixed_lines, 1) if line.startswith("CMD"))
    assert result.source_map.original_line(cmd_fixed) == 4
    assert result.source_map.original_line(1) == 1
    assert result.source_map.original_line(0) == 0


def test_nothing_to_fix_has_no_source_map():
    result = fix_text("FROM scratch\n", "Dockerfile", Config())
    assert result.source_map is None and not result.applied
