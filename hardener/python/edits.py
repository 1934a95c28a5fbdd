"""Edits to docker SDK calls, in the call's own layout (one line, or one argument per line)."""

from __future__ import annotations

from hardener.model import Edit


class Expression(str):
    """Python source written as it is, not as a literal (`client.create_host_config(...)`)."""


def render(document, value) -> str:
    """A Python literal in the module's quote style."""
    q = document.quote
    if isinstance(value, Expression):
        return str(value)
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return f"{q}{value}{q}" if q not in value and "\\" not in value else repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(render(document, v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{render(document, k)}: {render(document, v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def add_keywords(document, call, keywords: dict) -> list[Edit] | None:
    """Append keyword arguments to a call; None when **kwargs makes that unsafe."""
    if call.has_star_kwargs or not keywords:
        return None
    items = [f"{k}={render(document, v)}" for k, v in keywords.items()]
    args = call.arguments
    text = document.text
    if not args:
        close = text.rfind(")", call.start, call.end)
        return [Edit.insert(close, ", ".join(items))]
    last = args[-1]
    index = document.index
    last_line = index.line_of(max(last.end - 1, last.start))
    if index.line_of(call.end - 1) == last_line:
        return [Edit.insert(last.end, ", " + ", ".join(items))]
    # One argument per line: the new ones go on lines of their own, indented like the last.
    eol = document.eol
    indent = index.line_text(last.line)[: last.column]
    indent = indent if not indent.strip() else " " * last.column
    line_end = index.line_end(last_line, keep_eol=False)
    if last.has_comma:
        return [Edit.insert(line_end, "".join(f"{eol}{indent}{item}," for item in items))]
    block = "".join(f"{eol}{indent}{item}" + ("," if i < len(items) - 1 else "") for i, item in enumerate(items))
    if not text[last.end : line_end].strip():
        return [Edit.insert(last.end, "," + block)]
    return [Edit.insert(last.end, ","), Edit.insert(line_end, block)]  # a comment follows the last argument


def append_to_list(document, node, items: list) -> Edit | None:
    """Add items to a literal list argument."""
    import libcst as cst

    if not isinstance(node, cst.List):
        return None
    start, end = document.span_of(node)
    rendered = ", ".join(render(document, i) for i in items)
    if not node.elements:
        return Edit.insert(end - 1, rendered)
    _last_start, last_end = document.span_of(node.elements[-1].value)
    return Edit.insert(last_end, ", " + rendered)


def add_to_dict(document, node, entries: dict) -> Edit | None:
    import libcst as cst

    if not isinstance(node, cst.Dict):
        return None
    start, end = document.span_of(node)
    rendered = ", ".join(f"{render(document, k)}: {render(document, v)}" for k, v in entries.items())
    if not node.elements:
        return Edit.insert(end - 1, rendered)
    _s, last_end = document.span_of(node.elements[-1].value)
    return Edit.insert(last_end, ", " + rendered)


def literal(node):
    """The Python value of a literal expression (strings, numbers, bools, lists, dicts), or None."""
    import ast

    import libcst as cst

    try:
        return ast.literal_eval(cst.Module([]).code_for_node(node))
    except (ValueError, SyntaxError):
        return None
