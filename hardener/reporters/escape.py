"""Escaping for every output format.

Paths, messages and errors quote file names and file content, which come from untrusted pull requests:
a name may hold a line break, a terminal escape sequence, `::` (a GitHub workflow command), a backtick,
`<`, `|`, or bytes that are not UTF-8 (decoded by Python as surrogate escapes). Every reporter passes such
values through one of these functions for the format it writes:

- `visible`: terminals and CI logs. Control characters, invisible direction marks and undecodable
  bytes become `\\xNN` / `\\uNNNN` text, so nothing can move the cursor, recolour or hide text.
- `log_line`: one line of a CI log, made visible and unable to start a workflow command.
- `json_text`: a JSON document's text, valid UTF-8 and inert in a CI log.
- `uri_path`: a path in a URI: percent-encoded bytes (the file's real name, even when not UTF-8).
- `md_text`, `md_code`, `md_fence`: GitHub-flavoured Markdown: text that renders as itself (no HTML,
  links, images, mentions), and code spans and blocks nothing can break out of.
- `git_quoted`: a file name in a patch header, quoted as git quotes it when it needs quoting.
"""

from __future__ import annotations

import os
import re

# C0 and C1 controls, DEL, bidirectional and zero-width marks, line and paragraph separators, a
# byte-order mark, and lone surrogates (undecodable bytes under surrogateescape, or invalid text).
_INVISIBLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ud800-\udfff]"
)
# A workflow command: `::name ...::` at the start of a line (after blanks), or the older `##[name]` anywhere.
_COMMAND_START = re.compile(r"^(\s*):")
# Markdown: characters that could start emphasis, code, links, images, HTML, tables, strikethrough or math.
_MD_SPECIAL = frozenset("\\`*_[]<>|~&$!")
# GitHub turns these into links in any text: URLs, www. names, and issue references.
_AUTOLINK = re.compile(r"(?i)(?<=:)(?=//)|(?<=www)(?=\.)|(?<=#)(?=\d)")


def _visible_char(match: re.Match) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, as os.fsdecode and surrogateescape keep it
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def visible(text, keep: str = "") -> str:
    """`text` with every invisible or controlling character shown as an escape; `keep` lists exceptions."""
    text = str(text)
    if keep:
        return _INVISIBLE.sub(lambda m: m.group() if m.group() in keep else _visible_char(m), text)
    return _INVISIBLE.sub(_visible_char, text)


def inert(line: str) -> str:
    """A line the GitHub runner will not read as a workflow command (`::x::` or `##[x]`)."""
    line = _COMMAND_START.sub(r"\1\\x3a", line) if line.lstrip().startswith("::") else line
    return line.replace("##[", "#\\x23[")


def log_line(text) -> str:
    """One line for a terminal or CI log: visible, and not a workflow command."""
    return inert(visible(text))


def unicode_text(text) -> str:
    """Valid Unicode for a UTF-8 document: undecodable bytes and lone surrogates become `\\xNN`/`\\uNNNN`."""
    text = str(text)
    if not any("\ud800" <= ch <= "\udfff" for ch in text):
        return text
    return re.sub("[\ud800-\udfff]", _visible_char, text)


def unicode_strings(value):
    """`value` (JSON-shaped: dicts, lists, strings, numbers) with every string made valid Unicode."""
    if isinstance(value, str):
        return unicode_text(value)
    if isinstance(value, dict):
        return {unicode_text(k): unicode_strings(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [unicode_strings(v) for v in value]
    return value


def json_text(document, indent: int = 2) -> str:
    """A JSON document as ASCII text: valid JSON for any string, and inert when printed to a CI log.

    `#` appears only inside strings, so writing `##[` as `#\\u0023[` changes no value.
    """
    import json

    return json.dumps(unicode_strings(document), indent=indent).replace("##[", "#\\u0023[")


def uri_path(path: str) -> str:
    """A relative or absolute path as URI path text: the file name's own bytes, percent-encoded."""
    from urllib.parse import quote

    return quote(os.fsencode(path), safe="/")


def file_uri(path: str) -> str:
    """A `file://` URI for an absolute path (forward slashes), whatever bytes its name holds."""
    from urllib.parse import quote

    path = path.replace(os.sep, "/")
    if not path.startswith("/"):  # a Windows drive path
        path = "/" + path
    return "file://" + quote(os.fsencode(path) if os.sep == "/" else path.encode("utf-8", "surrogatepass"), safe="/:")


def _break_autolinks(text: str) -> str:
    return _AUTOLINK.sub("\u200b", text)


def md_text(text) -> str:
    """Text that renders as itself in GitHub Markdown, on one line, in a paragraph, list item or table cell.

    Markdown punctuation is backslash-escaped (so `|` cannot end a cell, a backtick cannot open code, `<`
    cannot open HTML and `[` cannot open a link or image); URLs, `www.` names and issue references get a
    zero-width space so GitHub does not link them, and so does `@`, so no one is mentioned.
    """
    text = visible(str(text).replace("\r\n", " ").replace("\r", " ").replace("\n", " "))
    out = []
    for ch in _break_autolinks(text):
        if ch in _MD_SPECIAL:
            out.append("\\" + ch)
        elif ch == "@":
            out.append("@\u200b")
        else:
            out.append(ch)
    return "".join(out)


def md_code(text, *, table: bool = False) -> str:
    """A Markdown code span showing `text` literally: its fence is longer than any backtick run inside.

    In a table cell (`table=True`) pipes are escaped too: GitHub splits cells before it reads code spans.
    """
    text = visible(text)
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    if text.startswith(("`", " ")) or text.endswith(("`", " ")):
        text = f" {text} "  # Markdown strips one space from each side of a padded span
    if table:
        text = text.replace("|", "\\|")
    return f"{fence}{text}{fence}"


def md_fence(text: str) -> str:
    """A backtick fence for a fenced code block (such as ```suggestion) that no line of `text` can close."""
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    return "`" * max(3, longest + 1)


_GIT_ESCAPES = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r", 34: '\\"', 92: "\\\\"}


def git_quoted(name: str) -> str:
    """A file name for a patch header: as is when plain, else in double quotes with C escapes, as git writes.

    `git apply` and GNU patch read both; a quoted name keeps a line break or control byte from ending the
    header line, and keeps the name's own bytes even when they are not UTF-8.
    """
    if not re.search('[\x00-\x1f\x7f"\\\\\ud800-\udfff]', name):
        return name
    data = name.encode("utf-8", "surrogateescape")
    parts = []
    for byte in data:
        if byte in _GIT_ESCAPES:
            parts.append(_GIT_ESCAPES[byte])
        elif byte < 0x20 or byte >= 0x7F:
            parts.append(f"\\{byte:03o}")
        else:
            parts.append(chr(byte))
    return '"' + "".join(parts) + '"'
