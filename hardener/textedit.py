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
    taken = _TakenRegions()
    for fix in sorted(fixes, key=lambda f: (f.span, f.description)):
        if any(taken.conflicts(region) for region in fix.regions):
            deferred.append(fix)
            continue
        accepted.append(fix)
        for region in fix.regions:
            taken.add(region)
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


class _TakenRegions:
    """The regions of accepted fixes, answering `_overlaps` against all of them in logarithmic time.

    Insertion points are kept sorted. Ranges are kept sorted and merged where
    they overlap (never where they only touch, which is allowed), so their
    ends are sorted too and only the nearest range needs a look.
    """

    def __init__(self) -> None:
        self.points: list[int] = []
        self.starts: list[int] = []
        self.ends: list[int] = []

    def conflicts(self, region: tuple[int, int]) -> bool:
        start, end = region
        if start == end:
            if self._has_point(start, start):
                return True
            i = bisect.bisect_right(self.starts, start)  # ranges starting at or before the point
            return i > 0 and self.ends[i - 1] >= start
        if self._has_point(start, end):
            return True
        i = bisect.bisect_left(self.starts, end)  # ranges starting before this one ends
        return i > 0 and self.ends[i - 1] > start

    def add(self, region: tuple[int, int]) -> None:
        start, end = region
        if start == end:
            bisect.insort(self.points, start)
            return
        first = bisect.bisect_right(self.ends, start)  # the first range ending after this one starts
        last = bisect.bisect_left(self.starts, end)  # past the last range starting before this one ends
        if first < last:
            start, end = min(start, self.starts[first]), max(end, self.ends[last - 1])
        self.starts[first:last] = [start]
        self.ends[first:last] = [end]

    def _has_point(self, start: int, end: int) -> bool:
        i = bisect.bisect_left(self.points, start)
        return i < len(self.points) and self.points[i] <= end


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
    return EditMap(edits).back(offset)


class EditMap:
    """map_back for many offsets through one set of edits: sorted once, then a binary search each."""

    def __init__(self, edits: Sequence[Edit]):
        self.edits = sorted(edits)
        self.new_starts: list[int] = []  # where each edit's content starts in the edited text
        self.deltas: list[int] = []  # the length change of all edits before it
        delta = 0
        for edit in self.edits:
            self.new_starts.append(edit.start + delta)
            self.deltas.append(delta)
            delta += len(edit.content) - (edit.end - edit.start)
        self.total = delta

    def back(self, offset: int) -> int:
        i = bisect.bisect_right(self.new_starts, offset) - 1  # the last edit starting at or before offset
        if i < 0:
            return offset
        edit, new_start = self.edits[i], self.new_starts[i]
        if offset < new_start + len(edit.content):
            return edit.start
        return offset - self.deltas[i] - (len(edit.content) - (edit.end - edit.start))

    def back_exact(self, offset: int) -> int | None:
        """Like `back`, but None for an offset strictly inside text an edit put there (it has no original place)."""
        i = bisect.bisect_right(self.new_starts, offset) - 1
        if i >= 0 and self.new_starts[i] < offset < self.new_starts[i] + len(self.edits[i].content):
            return None
        return self.back(offset)


class SourceMap:
    """From the fixed text back to the original, through each round's edits (as ruff's SourceMap does).

    A line the fixes inserted maps to the original line where the insertion happened.
    """

    def __init__(self, original: str, fixed: str, rounds: Sequence[EditMap]):
        self.original, self.fixed, self.rounds = original, fixed, tuple(rounds)
        self._original_index: LineIndex | None = None
        self._fixed_index: LineIndex | None = None

    def original_offset(self, offset: int) -> int:
        for round_map in reversed(self.rounds):
            offset = round_map.back(offset)
        return offset

    def original_line(self, fixed_line: int) -> int:
        """The original file's line for a line of the fixed text (1-based; 0 stays 0: no line)."""
        if fixed_line <= 0 or not self.rounds:
            return fixed_line
        if self._fixed_index is None or self._original_index is None:
            self._fixed_index, self._original_index = LineIndex(self.fixed), LineIndex(self.original)
        fixed_lines = len(self._fixed_index.starts)
        offset = self._fixed_index.line_start(min(fixed_line, fixed_lines))
        return self._original_index.line_of(self.original_offset(offset))

    def edits_in_original(self, round_number: int, edits: Sequence[Edit]) -> tuple[Edit, ...]:
        """One round's edits placed in the original text; empty when any edit touches text an earlier round made."""
        placed = []
        for edit in edits:
            start, end = edit.start, edit.end
            for round_map in reversed(self.rounds[:round_number]):
                earlier_start, earlier_end = round_map.back_exact(start), round_map.back_exact(end)
                if earlier_start is None or earlier_end is None:
                    return ()
                start, end = earlier_start, earlier_end
            placed.append(Edit(start, end, edit.content))
        return tuple(placed)
