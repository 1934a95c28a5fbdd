"""A three-way line merge: put hardener's fix (original -> fixed) onto a newer version of the file.

Used when the base branch moved after the workflow checked it out: the fix was computed on the
original text, a teammate changed the file meanwhile. Each side's changes are hunks of original
lines; the merge applies both only when no hunk of ours overlaps or touches a hunk of theirs, so
every fix lands on exactly the lines it was computed for, next to lines that are as it saw them.
Anything closer is a conflict, and the file is left out rather than guessed at.
"""

from __future__ import annotations

from hardener.linediff import opcodes

Hunk = tuple[int, int, list[str]]  # original lines [start, stop) replaced by these lines


def _hunks(original: list[str], changed: list[str]) -> list[Hunk]:
    return [(i1, i2, changed[j1:j2]) for tag, i1, i2, j1, j2 in opcodes(original, changed) if tag != "equal"]


def _touch(a: Hunk, b: Hunk) -> bool:
    """Overlapping or adjacent (closed intervals): two insertions at one place also touch."""
    return a[0] <= b[1] and b[0] <= a[1]


def merge_lines(original: str, ours: str, theirs: str) -> str | None:
    """`theirs` with the changes `original` -> `ours` applied, or None when the two sides' changes touch."""
    if ours == original:
        return theirs
    if theirs == original:
        return ours
    base = original.splitlines(keepends=True)
    our_hunks = _hunks(base, ours.splitlines(keepends=True))
    their_hunks = _hunks(base, theirs.splitlines(keepends=True))
    # Both lists are sorted by start: a sweep finds any pair that touches.
    j = 0
    for hunk in our_hunks:
        while j < len(their_hunks) and their_hunks[j][1] < hunk[0]:
            j += 1
        if j < len(their_hunks) and _touch(hunk, their_hunks[j]):
            return None
    merged: list[str] = []
    position = 0
    for start, stop, lines in sorted(our_hunks + their_hunks, key=lambda h: (h[0], h[1])):
        merged += base[position:start]
        merged += lines
        position = stop
    merged += base[position:]
    text = "".join(merged)
    # A last line without its line break, followed by a line the other side added, would join two lines.
    if any(not line.endswith(("\n", "\r")) for line in merged[:-1]):
        return None
    return text
