"""Text patches at exact offsets: the only way hardener ever changes a file."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

from hardener.model import Edit, Fix


class LineIndex:
    """Maps offsets to 1-based lines and columns and back."""

    def __init__(self, text: str):
        self.text = text
        self.starts = [0]
        pos = text.find("\n")
        while pos != -1:
            self.starts.append(pos + 1)
            pos = text.find("\n", pos + 1)

    @property
    def line_count(self) -> int:
        # A final line without a newline still counts; an empty tail does not.
        n = len(self.starts)
        return n - 1 if self.starts[-1] == len(self.text) else n

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)

    def position(self, offset: int) -> tuple[int, int]:
        line = self.line_of(offset)
        return line, offset - self.starts[line - 1] + 1

    def line_start(self, line: int) -> int:
        return self.starts[line - 1]

    def line_end(self, line: int, keep_eol: bool = True) -> int:
        """Offset just past the line (past its EOL when keep_eol)."""
        end = self.starts[line] if line < len(self.starts) else len(self.text)
        if not keep_eol:
            while end > self.starts[line - 1] and self.text[end - 1] in "\r\n":
                end -= 1
        return end

    def line_text(self, line: int, keep_eol: bool = False) -> str:
        return self.text[self.line_start(line) : self.line_end(line, keep_eol)]


def detect_eol(text: str) -> str:
    """The file's line ending: CRLF when most of its lines end with one."""
    crlf = text.count("\r\n")
    return "\r\n" if crlf and crlf >= text.count("\n") - crlf else "\n"


def select_non_overlapping(fixes: Iterable[Fix]) -> tuple[list[Fix], list[Fix]]:
    """Split fixes into ones to apply now and ones deferred to the next round.

    Fixes are taken in order of position; one that overlaps (or touches at the
    same insertion point as) an accepted fix waits for a re-check next round,
    as ruff does.
    """
    accepted: list[Fix] = []
    deferred: list[Fix] = []
    taken: list[tuple[int, int]] = []
    for fix in sorted(fixes, key=lambda f: (f.span, f.description)):
        if any(_overlaps(region, span) for region in fix.regions for span in taken):
            deferred.append(fix)
            continue
        accepted.append(fix)
        taken.extend(fix.regions)
    return accepted, deferred


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    (a_start, a_end), (b_start, b_end) = a, b
    if a_start == a_end and b_start == b_end:
        # Two insertions at one point have no defined order.
        return a_start == b_start
    # An insertion conflicts with a range it falls in or touches: at a shared
    # boundary the order of the two changes would be arbitrary.
    if a_start == a_end:
        return b_start <= a_start <= b_end
    if b_start == b_end:
        return a_start <= b_start <= a_end
    return a_start < b_end and b_start < a_end


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """Apply non-overlapping edits in one pass; raises on overlap."""
    out: list[str] = []
    pos = 0
    for edit in sorted(edits):
        if edit.start < pos:
            raise ValueError(f"overlapping edits at offset {edit.start}")
        out.append(text[pos : edit.start])
        out.append(edit.content)
        pos = edit.end
    out.append(text[pos:])
    return "".join(out)


def map_back(offset: int, edits: Sequence[Edit]) -> int:
    """Map an offset in the edited text back to the text before the edits.

    Offsets inside inserted text map to where the insertion was made.
    """
    delta = 0
    for edit in sorted(edits):
        new_start = edit.start + delta
        new_end = new_start + len(edit.content)
        if offset < new_start:
            break
        if offset < new_end:
            return edit.start
        delta += len(edit.content) - (edit.end - edit.start)
    return offset - delta
