"""Inline suppressions: `# hardener: ignore=RULE` above what a finding is about, and hadolint's pragmas.

In a Dockerfile the comment goes on the line(s) above the instruction; in a
compose file or a Python module above the line (or at the end of it).

    # hardener: ignore=HD101 -- the Action's container must run as root
    # hardener: ignore=HD202, HD204
    # hardener: global ignore=HD109
    # hadolint ignore=DL3002,DL3008
    # hadolint global ignore=DL3059

Codes are separated by commas (spaces around them are allowed), or by spaces
between ids (`HD202 HD204`); the list ends at anything else, which is the
reason (` -- why` by convention).

The pragmas of a file are located once, at exact offsets, and taken only
where the document says a comment is (`comment_lines`, `comments_for`). The
suppression pass records which codes silenced a finding, so that rules about
the pragmas themselves can tell an unused one, and remove it with text edits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hardener.model import Edit, Finding
from hardener.rules.base import Context

# Where a pragma starts; the codes follow.
_HEAD = re.compile(r"#[^\S\r\n]*(hardener:|hadolint)[^\S\r\n]*(global[^\S\r\n]+)?ignore[^\S\r\n]*=[^\S\r\n]*")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_COMMA = re.compile(r"[ \t]*,[ \t]*")
# After a space only something shaped like an id (HD202, DL3008) continues the list: words are the reason.
_SPACED_ID = re.compile(r"[ \t]+([A-Za-z]+[0-9]+)(?![A-Za-z0-9_-])")
# A YAML block scalar's indicator at the end of a line (`run: |`, `key: >-`), maybe with a comment.
_BLOCK_SCALAR = re.compile(r"(?:^|[:\-\s])[|>][0-9+-]*[ \t]*(?:#.*)?$")


@dataclass(frozen=True)
class Code:
    """One code of a pragma, at its offsets in the file's text."""

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Pragma:
    tool: str  # "hardener" or "hadolint"
    is_global: bool
    line: int
    start: int  # the comment's `#`
    end: int  # the end of the comment: the end of its line, before the line break
    whole_line: bool  # the comment is alone on its line
    codes: tuple[Code, ...]
    text: str  # the comment as the document gives it (stripped)

    def codes_silencing(self, rule) -> list[Code]:
        if self.tool == "hadolint":
            return [c for c in self.codes if c.text in rule.hadolint]
        return [c for c in self.codes if rule.matches(c.text)]


def _parse_at(text: str, start: int, line_end: int) -> tuple[str, bool, tuple[Code, ...]] | None:
    head = _HEAD.match(text, start, line_end)
    if not head:
        return None
    codes = []
    code = _CODE.match(text, head.end(), line_end)
    while code:
        codes.append(Code(code.group(), code.start(), code.end()))
        comma = _COMMA.match(text, code.end(), line_end)
        if comma:
            code = _CODE.match(text, comma.end(), line_end)
            continue
        spaced = _SPACED_ID.match(text, code.end(), line_end)
        code = spaced and _CODE.match(text, spaced.start(1), line_end)
    if not codes:
        return None
    tool = "hardener" if head.group(1).startswith("hardener") else "hadolint"
    return tool, bool(head.group(2)), tuple(codes)


def _is_comment_line(line_text: str) -> bool:
    return line_text.lstrip().startswith("#")


def _end_of_line_comment(line_text: str) -> int | None:
    """Where the comment after content on a line starts (YAML and Python: ` #`), or None."""
    if _is_comment_line(line_text) or " #" not in line_text:
        return None
    return line_text.index(" #") + 1


def comments_around(index, line: int) -> tuple[str, ...]:
    """For line-comment languages (YAML, Python): the comment at the end of a line and the block above it."""
    found = []
    text = index.line_text(line) if 0 < line <= index.line_count else ""
    if " #" in text:
        found.append(text[text.index(" #") + 1 :].strip())
    ln = line - 1
    while ln >= 1 and _is_comment_line(index.line_text(ln)):
        found.append(index.line_text(ln).strip())
        ln -= 1
    return tuple(found)


def whole_line_comments(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if _is_comment_line(line)]


class Suppressions:
    """The pragmas of one document, and which of their codes silenced a finding in this run."""

    def __init__(self, document):
        from hardener.textedit import LineIndex

        self.document = document
        self.text = document.text
        self.index = getattr(document, "index", None) or LineIndex(document.text)
        self._on_line: dict[int, Pragma] = {}
        self.silenced: set[Code] = set()
        if "ignore" in self.text:
            self._locate()
        global_texts = set(document.comment_lines) if self._on_line else set()
        self.global_pragmas = [
            p for p in self._on_line.values() if p.is_global and p.whole_line and p.text in global_texts
        ]

    def _locate(self) -> None:
        """Every comment on a line of its own, or after content, that reads as a pragma."""
        index, text = self.index, self.text
        for head in _HEAD.finditer(text):
            line = index.line_of(head.start())
            if line in self._on_line:
                continue
            line_start, line_end = index.line_start(line), index.line_end(line, keep_eol=False)
            line_text = text[line_start:line_end]
            if _is_comment_line(line_text):
                comment_start, whole = line_start + len(line_text) - len(line_text.lstrip()), True
            else:
                column = _end_of_line_comment(line_text)
                if column is None:
                    continue
                comment_start, whole = line_start + column, False
            if comment_start != head.start():
                continue  # `ignore=` further inside a comment is only words
            parsed = _parse_at(text, comment_start, line_end)
            if parsed:
                tool, is_global, codes = parsed
                comment = text[comment_start:line_end].strip()
                self._on_line[line] = Pragma(tool, is_global, line, comment_start, line_end, whole, codes, comment)

    def _local_for(self, line: int) -> list[Pragma]:
        """The local pragmas the document gives a finding on this line: the block above it, or at its end."""
        if not self._on_line:
            return []
        near = []
        if line in self._on_line and not self._on_line[line].whole_line:
            near.append(self._on_line[line])
        above = line - 1
        while above >= 1 and _is_comment_line(self.index.line_text(above)):
            if above in self._on_line:
                near.append(self._on_line[above])
            above -= 1
        if not near:
            return []
        given = set(self.document.comments_for(line))
        return [p for p in near if not p.is_global and p.text in given]

    def silence(self, finding: Finding, rule) -> bool:
        """Whether a pragma silences this finding; every code that does is recorded as used."""
        codes = [c for p in (*self.global_pragmas, *self._local_for(finding.line)) for c in p.codes_silencing(rule)]
        self.silenced.update(codes)
        return bool(codes)

    @property
    def pragmas(self) -> list[Pragma]:
        """Every pragma that can silence something, in file order."""
        return [p for line, p in sorted(self._on_line.items()) if p in self.global_pragmas or self._is_live(p)]

    def _is_live(self, pragma: Pragma) -> bool:
        if pragma.is_global:
            return False  # a global pragma counts only where the document lists file-wide comments
        target = pragma.line
        if pragma.whole_line:
            target += 1
            while target <= self.index.line_count and _is_comment_line(self.index.line_text(target)):
                target += 1
        return pragma in self._local_for(target)

    def removal(self, pragma: Pragma, unused: list[Code]) -> list[Edit] | None:
        """Edits that take the unused codes out of a pragma, or the whole comment when none is left.

        None where a removal could change more than a comment: the "comment" may be inside a
        multi-line string or block scalar, or removing the line could make the next comment a parser directive.
        """
        if self._may_be_inside_literal(pragma) or (
            pragma.is_global and sum(p.text == pragma.text for p in self._on_line.values()) > 1
        ):
            return None
        kept = [c for c in pragma.codes if c not in unused]
        if kept:
            # Keep each kept code with the separator written before it (none before the first).
            pieces = [kept[0].text]
            for code in kept[1:]:
                before = pragma.codes[pragma.codes.index(code) - 1]
                pieces.append(self.text[before.end : code.start] + code.text)
            first, last = pragma.codes[0], pragma.codes[-1]
            return [Edit(first.start, last.end, "".join(pieces))]
        line_start = self.index.line_start(pragma.line)
        if not pragma.whole_line:
            start = pragma.start
            while start > line_start and self.text[start - 1] in " \t":
                start -= 1
            return [Edit(start, pragma.end, "")]
        if self._opens_the_file(pragma) and _is_comment_line(self._line(pragma.line + 1)):
            return None
        end = self.index.line_end(pragma.line, keep_eol=True)
        if end == pragma.end and pragma.line > 1:
            # The last line has no line break: take the one before it instead.
            return [Edit(self.index.line_end(pragma.line - 1, keep_eol=False), end, "")]
        return [Edit(line_start, end, "")]

    def _line(self, line: int) -> str:
        return self.index.line_text(line) if 1 <= line <= self.index.line_count else ""

    def _opens_the_file(self, pragma: Pragma) -> bool:
        """Only comment lines above it (where a Dockerfile's parser directives are)."""
        return all(_is_comment_line(self._line(ln)) for ln in range(1, pragma.line))

    def _may_be_inside_literal(self, pragma: Pragma) -> bool:
        line_text = self._line(pragma.line)
        if not pragma.whole_line:
            content = line_text[: pragma.start - self.index.line_start(pragma.line)]
            if content.count('"') % 2 or content.count("'") % 2:
                return True  # the ` #` may be inside a quoted string
        before = self.text[: self.index.line_start(pragma.line)]
        if (before.count('"""') % 2) or (before.count("'''") % 2):
            return True  # inside a triple-quoted string
        # Inside a YAML block scalar: an enclosing, less indented line ends with `|` or `>`.
        indent = len(line_text) - len(line_text.lstrip())
        line = pragma.line - 1
        while line >= 1 and indent > 0:
            above = self._line(line)
            if above.strip() and not _is_comment_line(above):  # comments open nothing
                above_indent = len(above) - len(above.lstrip())
                if above_indent < indent:
                    if _BLOCK_SCALAR.search(above.rstrip()):
                        return True
                    indent = above_indent
            line -= 1
        return False


@dataclass(frozen=True)
class SuppressionContext(Context):
    """What rules about the pragmas themselves see, besides the settings.

    `suppressions` holds the file's pragmas and, once the other rules have run and been
    filtered, which codes silenced something; `kind_rules` are the kind's rule classes and
    `selected` the ids of those running now.
    """

    kind: str = ""
    suppressions: Suppressions | None = None
    kind_rules: tuple = ()
    selected: frozenset[str] = field(default_factory=frozenset)
