"""Edits to compose files, written in the file's own layout.

Values are rendered as text in the style found in the file (indent unit,
indented or indentless sequences, flow or block collections, line endings)
and inserted at exact offsets. Nothing is re-serialised.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace

from hardener.model import Edit


@dataclass(frozen=True)
class YamlStyle:
    indent: int = 2  # columns per nesting level of block mappings
    sequence_offset: int = 2  # column of "-" relative to its key, for block sequences under a key
    flow_sequences: bool = False  # the file writes short lists as [a, b]
    quote: str = ""  # how the file quotes words in lists: "", '"' or "'"
    # Keys whose lists the file writes one way ({"cap_drop": False}): a new list under such a key follows it.
    key_flow: dict = field(default_factory=dict, compare=False, hash=False)

    def flow_for(self, key: str) -> bool:
        return self.key_flow.get(key, self.flow_sequences)

    def for_mapping(self, mapping) -> YamlStyle:
        """The style for new lists in one service: the way its own lists are written, where it has any."""
        counts: Counter = Counter(
            value.flow for key, value in getattr(mapping, "items", ()) if value.kind == "seq" and value.items
        )
        if not counts or counts[True] == counts[False]:
            return self
        return replace(self, flow_sequences=counts[True] > counts[False])

    def word(self, text: str) -> str:
        """A plain word (ALL, CHOWN, no-new-privileges:true) quoted the way the file quotes."""
        return f"{self.quote}{text}{self.quote}"


def detect_style(document) -> YamlStyle:
    indents: Counter = Counter()
    offsets: Counter = Counter()
    sequences: Counter = Counter()
    by_key: dict[str, Counter] = {}
    quotes: Counter = Counter()
    text = document.text

    def walk(node) -> None:
        if node.kind == "map":
            for key, value in node.items:
                if value.kind == "map" and not value.flow and value.items and not node.flow:
                    step = value.items[0][0].column - key.column
                    if step > 0:
                        indents[step] += 1
                if value.kind == "seq" and not value.flow and value.items and not node.flow:
                    dash = dash_column(text, value.items[0], document)
                    if dash is not None:
                        offsets[dash - key.column] += 1
                if value.kind == "seq" and value.items and key.value != "<<":
                    sequences[value.flow] += 1
                    by_key.setdefault(key.value, Counter())[value.flow] += 1
                walk(value)
        elif node.kind == "seq":
            for item in node.items:
                if item.kind == "scalar" and item.value.replace("_", "").replace("-", "").isalpha():
                    quotes[item.style or ""] += 1
                walk(item)

    if document.root is not None:
        walk(document.root)
    indent = indents.most_common(1)[0][0] if indents else 2
    offset = offsets.most_common(1)[0][0] if offsets else indent
    quote = quotes.most_common(1)[0][0] if quotes else ""
    key_flow = {k: c[True] > c[False] for k, c in by_key.items() if isinstance(k, str) and c[True] != c[False]}
    return YamlStyle(
        indent, max(offset, 0), sequences[True] > sequences[False], quote if quote in ("'", '"') else "", key_flow
    )


def dash_column(text: str, item, document) -> int | None:
    """Column of the "-" that introduces a block sequence item."""
    start = document.index.line_start(item.line)
    i = item.start - 1
    while i >= start and text[i] in " \t":
        i -= 1
    if i >= start and text[i] == "-":
        return i - start
    return None


def render_block(key: str, value, column: int, style: YamlStyle) -> list[str]:
    pad = " " * column
    if isinstance(value, dict):
        lines = [f"{pad}{key}:"]
        for k, v in value.items():
            lines += render_block(k, v, column + style.indent, style)
        return lines
    if isinstance(value, list):
        if style.flow_for(key):
            return [f"{pad}{key}: {render_flow(value)}"]
        dash = " " * (column + style.sequence_offset)
        return [f"{pad}{key}:"] + [f"{dash}- {item}" for item in value]
    return [f"{pad}{key}: {value}"]


def render_flow(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {render_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(render_flow(v) for v in value) + "]"
    return str(value)


def _after_line(document, offset: int) -> int:
    """The start of the line after the one holding offset-1."""
    return document.index.line_end(document.index.line_of(max(offset - 1, 0)), keep_eol=True)


def _insert_lines(document, at: int, lines: list[str]) -> Edit:
    eol = document.eol
    body = "".join(line + eol for line in lines)
    if at == len(document.text) and not document.text.endswith("\n"):
        return Edit.insert(at, eol + body[: -len(eol)])  # keep "no newline at end of file"
    return Edit.insert(at, body)


def add_keys(document, mapping, entries: dict, style: YamlStyle) -> Edit | None:
    """Add keys at the end of a mapping (block or flow)."""
    if mapping.flow or not mapping.items:
        if mapping.kind != "map" or document.text[mapping.end - 1 : mapping.end] != "}":
            return None
        text = ", ".join(f"{k}: {render_flow(v)}" for k, v in entries.items())
        return _flow_insert(document, mapping, [item for _, item in mapping.items], text)
    column = mapping.items[0][0].column
    at = _block_end(document, mapping.items[-1][1], mapping.items[-1][0])
    if at is None:
        return None
    at = _past_child_comments(document.text, at, column)
    lines: list[str] = []
    for key, value in entries.items():
        lines += render_block(key, value, column, style)
    return _insert_lines(document, at, lines)


def append_items(document, sequence, items: list[str]) -> Edit | None:
    """Append items to a sequence (block or flow)."""
    if sequence.flow or not sequence.items:
        if sequence.kind != "seq" or document.text[sequence.end - 1 : sequence.end] != "]":
            return None
        return _flow_insert(document, sequence, sequence.items, ", ".join(items))
    dash = dash_column(document.text, sequence.items[0], document)
    if dash is None:
        return None
    gap = max(1, sequence.items[0].column - dash - 1)  # "-   item" keeps its spacing
    at = _block_end(document, sequence.items[-1], None)
    if at is None:
        return None
    return _insert_lines(document, at, [f"{' ' * dash}-{' ' * gap}{item}" for item in items])


def _past_child_comments(text: str, at: int, column: int) -> int:
    """Past the comment lines right after `at` that are indented deeper than the new keys' column.

    Such comments belong to the last key: commented-out entries (`#   - UNCOMMENT_TO_ENABLE=1`) under
    `environment:`. New keys go after them, so uncommenting them still gives the key its entries.
    Comments at the keys' column or shallower stay below the new keys (they document what follows).
    """
    position = at
    while position < len(text):
        end = text.find("\n", position)
        end = len(text) if end == -1 else end + 1
        line = text[position:end]
        stripped = line.lstrip(" ")
        if not stripped.startswith("#") or len(line) - len(stripped) <= column:
            break
        if end == len(text) and not line.endswith("\n"):
            break  # the file's last line has no line break: inserting after it would join it
        position = end
    return position


def _flow_insert(document, collection, items, text: str) -> Edit:
    """Insert into [..] or {..} right after the last item, keeping the author's spacing and a trailing comma."""
    if not items:
        return Edit.insert(collection.end - 1, text)
    last_end = items[-1].end
    after = document.text[last_end : collection.end - 1]
    comma = after.find(",")
    if comma != -1 and "#" not in after[:comma]:
        return Edit.insert(last_end + comma + 1, f" {text},")  # a trailing comma stays trailing
    return Edit.insert(last_end, f", {text}")


def _block_end(document, last_value, last_key) -> int | None:
    """Where new lines go after a block collection's last value (None: nowhere safe)."""
    innermost = last_value
    while innermost.kind in ("map", "seq") and not innermost.flow and innermost.items:
        innermost = innermost.items[-1][1] if innermost.kind == "map" else innermost.items[-1]
    if innermost.kind == "scalar" and innermost.style in ("|", ">") and _keeps_trailing_lines(document, innermost):
        # A "keep" block scalar owns its trailing blank lines: insert after all of them.
        if not document.text.endswith("\n") and innermost.end >= len(document.text):
            return None
        return innermost.end
    if _has_content(last_value):
        return _after_line(document, document.content_end(last_value))
    return _after_line(document, last_key.end) if last_key is not None else None


def _has_content(node) -> bool:
    return not (node.kind == "scalar" and node.style is None and node.value == "")


def _keeps_trailing_lines(document, node) -> bool:
    """The block scalar's header has the keep indicator: |+ or >+ (with an optional indent digit)."""
    header = document.text[node.start : document.text.find("\n", node.start)].split("#", 1)[0].strip()
    return re.fullmatch(r"[|>](?:\+[1-9]?|[1-9]\+)", header) is not None
