"""The author's layout: how continuation lines are indented and where && goes.

Text that hardener inserts follows the style found in the same instruction,
then in the rest of the file, and only then a default.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

DEFAULT_INDENT = "    "


@dataclass(frozen=True)
class ContinuationStyle:
    leading_operator: bool  # "\n    && next" rather than "&& \\\n    next"
    indent: str

    def join(self, escape: str, eol: str) -> str:
        """Text that ends one command and starts the next on a new line."""
        if self.leading_operator:
            return f" {escape}{eol}{self.indent}&& "
        return f" && {escape}{eol}{self.indent}"


def continuation_style(document, preferred=()) -> ContinuationStyle:
    """Vote on the style of the preferred instructions, then of every RUN."""
    for group in (list(preferred), [i for i in document.instructions if i.keyword == "RUN"]):
        leading, trailing, indents = _votes(document, group)
        if leading or trailing:
            indent = indents.most_common(1)[0][0] if indents else DEFAULT_INDENT
            return ContinuationStyle(leading > trailing, indent)
    return ContinuationStyle(False, DEFAULT_INDENT)


def _votes(document, instructions) -> tuple[int, int, Counter]:
    leading = trailing = 0
    indents: Counter = Counter()
    escape = document.escape
    for instr in instructions:
        if instr.has_heredoc or instr.start_line == instr.end_line:
            continue
        previous = document.index.line_text(instr.start_line).rstrip()
        for ln in range(instr.start_line + 1, instr.end_line + 1):
            line = document.index.line_text(ln)
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            indent = line[: len(line) - len(line.lstrip())]
            if stripped.startswith("&&"):
                leading += 1
                indents[indent] += 1
            elif previous.removesuffix(escape).rstrip().endswith("&&"):
                trailing += 1
                indents[indent] += 1
            previous = line.rstrip()
    return leading, trailing, indents


def keyword_case(document, keyword: str) -> str:
    """KEYWORD or keyword, as most instructions in the file are written."""
    lower = sum(1 for i in document.instructions if i.keyword_text.islower())
    return keyword.lower() if lower > len(document.instructions) / 2 else keyword.upper()
