"""Line diffs: every patch turns the original into the fixed text, and agrees with difflib where both are clear."""

import difflib

from hypothesis import given, settings
from hypothesis import strategies as st

from hardener import linediff


def apply(a, opcodes, b):
    out = []
    for tag, i1, i2, j1, j2 in opcodes:
        out += a[i1:i2] if tag == "equal" else b[j1:j2]
    return out


def check_opcodes(a, b):
    codes = linediff.opcodes(a, b)
    assert apply(a, codes, b) == b
    # Contiguous, covering both sequences, equal blocks really equal.
    i = j = 0
    for tag, i1, i2, j1, j2 in codes:
        assert (i1, j1) == (i, j)
        if tag == "equal":
            assert a[i1:i2] == b[j1:j2]
        i, j = i2, j2
    assert (i, j) == (len(a), len(b))


lines = st.lists(st.sampled_from(["a\n", "b\n", "c\n", "  image: x\n", "x\n", "\n"]), max_size=40)


@settings(max_examples=300, deadline=None)
@given(lines, lines)
def test_opcodes_turn_one_sequence_into_the_other(a, b):
    check_opcodes(a, b)


@settings(max_examples=300, deadline=None)
@given(lines, lines)
def test_the_unified_diff_applies(a, b):
    patch = list(linediff.unified_diff(a, b, "a/f", "b/f"))
    if a == b:
        assert patch == []
        return
    # Apply the hunks as `patch` would, checking each context and removed line.
    result, position = [], 0
    for line in patch[2:]:
        if line.startswith("@@"):
            start = int(line.split()[1][1:].split(",")[0])
            length = int(line.split()[1].split(",")[1]) if "," in line.split()[1] else 1
            start = start - 1 if length else start
            result += a[position:start]
            position = start
        elif line[0] in " -":
            assert a[position] == line[1:]
            position += 1
            if line[0] == " ":
                result.append(line[1:])
        else:
            result.append(line[1:])
    assert result + a[position:] == b


def test_small_changes_read_as_difflib_reads_them():
    a = [f"line {i}\n" for i in range(30)]
    b = a[:10] + ["new\n"] + a[10:20] + a[21:]
    assert list(linediff.unified_diff(a, b, "a/f", "b/f")) == list(difflib.unified_diff(a, b, "a/f", "b/f"))


def test_many_repeated_lines_are_aligned_by_the_unique_ones():
    # The shape that made difflib slow: thousands of services sharing their lines but for the name.
    a = [line for i in range(3000) for line in (f"  s{i}:\n", "    image: nginx:1.27\n", "    environment:\n")]
    b = [line for i in range(3000) for line in (f"  s{i}:\n", "    image: nginx:1.27\n", "    read_only: true\n", "    environment:\n")]
    check_opcodes(a, b)
    inserted = [op for op in linediff.opcodes(a, b) if op[0] != "equal"]
    assert len(inserted) == 3000 and all(op[0] == "insert" and op[4] - op[3] == 1 for op in inserted)
