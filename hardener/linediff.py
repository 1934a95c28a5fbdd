"""Line diffs in time close to linear in the file's length, for patches and review suggestions.

difflib's SequenceMatcher alone grows with the square of the length on the files hardener fixes
(thousands of services, each with the same `image:` and `environment:` lines). Fixed files differ
from their originals in small places, so the lines that occur once in each file anchor the
alignment (as in patience diff): the longest run of such anchors in the same order splits the files
into small gaps, and only those gaps go to SequenceMatcher.
"""

from __future__ import annotations

import bisect
import difflib
from collections.abc import Iterator, Sequence

Opcode = tuple[str, int, int, int, int]


def opcodes(a: Sequence[str], b: Sequence[str]) -> list[Opcode]:
    """SequenceMatcher-style opcodes (equal, replace, delete, insert) turning `a` into `b`."""
    out: list[Opcode] = []
    i = j = 0
    for anchor_i, anchor_j in [*_anchors(a, b), (len(a), len(b))]:
        # Grow the gap's shared edges first: equal lines next to an anchor are equal, not edits.
        start_i, start_j = i, j
        while i < anchor_i and j < anchor_j and a[i] == b[j]:
            i, j = i + 1, j + 1
        _add(out, ("equal", start_i, i, start_j, j))
        end_i, end_j = anchor_i, anchor_j
        while end_i > i and end_j > j and a[end_i - 1] == b[end_j - 1]:
            end_i, end_j = end_i - 1, end_j - 1
        matcher = difflib.SequenceMatcher(None, a[i:end_i], b[j:end_j], autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            _add(out, (tag, i + i1, i + i2, j + j1, j + j2))
        _add(out, ("equal", end_i, anchor_i, end_j, anchor_j))
        if anchor_i < len(a):
            _add(out, ("equal", anchor_i, anchor_i + 1, anchor_j, anchor_j + 1))
        i, j = anchor_i + 1, anchor_j + 1
    return out


def _add(out: list[Opcode], op: Opcode) -> None:
    tag, i1, i2, j1, j2 = op
    if i1 == i2 and j1 == j2:
        return
    if out and out[-1][0] == tag == "equal":
        out[-1] = ("equal", out[-1][1], i2, out[-1][3], j2)
    else:
        out.append(op)


def _anchors(a: Sequence[str], b: Sequence[str]) -> list[tuple[int, int]]:
    """Pairs (i, j) of lines unique in both, the longest run of them in the same order."""
    counts: dict[str, list[int]] = {}
    for index, line in enumerate(a):
        counts.setdefault(line, [0, 0, -1, -1])
        entry = counts[line]
        entry[0] += 1
        entry[2] = index
    for index, line in enumerate(b):
        in_a = counts.get(line)
        if in_a is not None:
            in_a[1] += 1
            in_a[3] = index
    pairs = sorted((e[2], e[3]) for e in counts.values() if e[0] == 1 and e[1] == 1)
    # Longest increasing run of j (patience sorting), O(n log n).
    tails: list[int] = []  # j of the last pair of the best run of each length
    tail_index: list[int] = []
    previous: list[int] = []
    for k, (_i, j) in enumerate(pairs):
        length = bisect.bisect_left(tails, j)
        if length == len(tails):
            tails.append(j)
            tail_index.append(k)
        else:
            tails[length] = j
            tail_index[length] = k
        previous.append(tail_index[length - 1] if length else -1)
    run = []
    k = tail_index[-1] if tail_index else -1
    while k != -1:
        run.append(pairs[k])
        k = previous[k]
    return run[::-1]


def unified_diff(a: Sequence[str], b: Sequence[str], fromfile: str, tofile: str, n: int = 3) -> Iterator[str]:
    """The lines of a unified diff, in the format of difflib.unified_diff (lines keep their ends)."""
    started = False
    for group in _grouped(opcodes(a, b), n):
        if not started:
            started = True
            yield f"--- {fromfile}\n"
            yield f"+++ {tofile}\n"
        first, last = group[0], group[-1]
        yield f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n"
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                yield from (" " + line for line in a[i1:i2])
                continue
            if tag in ("replace", "delete"):
                yield from ("-" + line for line in a[i1:i2])
            if tag in ("replace", "insert"):
                yield from ("+" + line for line in b[j1:j2])


def _range(start: int, stop: int) -> str:
    beginning, length = start + 1, stop - start
    if length == 1:
        return str(beginning)
    if not length:
        beginning -= 1  # an empty range names the line before it
    return f"{beginning},{length}"


def _grouped(codes: list[Opcode], n: int) -> Iterator[list[Opcode]]:
    """Hunks: changes with up to n lines of context, merged when their contexts meet."""
    if not codes or (len(codes) == 1 and codes[0][0] == "equal"):
        return
    codes = list(codes)
    if codes[0][0] == "equal":
        tag, i1, i2, j1, j2 = codes[0]
        codes[0] = (tag, max(i1, i2 - n), i2, max(j1, j2 - n), j2)
    if codes[-1][0] == "equal":
        tag, i1, i2, j1, j2 = codes[-1]
        codes[-1] = (tag, i1, min(i2, i1 + n), j1, min(j2, j1 + n))
    group: list[Opcode] = []
    for tag, i1, i2, j1, j2 in codes:
        if tag == "equal" and i2 - i1 > 2 * n:
            group.append((tag, i1, min(i2, i1 + n), j1, min(j2, j1 + n)))
            yield group
            group = []
            i1, j1 = max(i1, i2 - n), max(j1, j2 - n)
        group.append((tag, i1, i2, j1, j2))
    if group and not (len(group) == 1 and group[0][0] == "equal"):
        yield group
