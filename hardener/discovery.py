"""Finding the files to work on: named files, and matching files under folders.

Nothing outside the root (see `hardener.files`) is used: a named path that leads outside it is an
error, and a link found while walking a folder is followed only to a file inside that folder. A link
is replaced by its target, so a file is worked on once, under its own name, and the link stays a link.
"""

from __future__ import annotations

import itertools
import os
import re
import stat
from dataclasses import dataclass

from hardener.files import OUTSIDE, is_inside, root_for
from hardener.kinds import kind_for, kind_of_name
from hardener.model import InputError

SKIPPED_FOLDERS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        ".venv",
        "venv",
        "__pycache__",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".hypothesis",
    }
)
# Deeper than any real project; the walk is iterative, this only keeps paths within what the system opens.
MAX_DEPTH = 100
MAX_IGNORE_BYTES = 1024 * 1024  # of a .gitignore; more is not a list of patterns anyone wrote
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


@dataclass(frozen=True)
class Target:
    path: str  # as shown to the user
    kind: str
    explicit: bool = False  # named on the command line (not found by walking a folder)


def discover(paths: list[str], config_for=None) -> tuple[list[Target], list[InputError]]:
    """Targets in a stable order, plus errors for paths that cannot be used.

    `config_for(folder)` gives the settings that apply below a folder: their
    `exclude` patterns (relative to the settings file) and `compose-files`.
    """
    targets: list[Target] = []
    errors: list[InputError] = []
    seen: set[str] = set()
    for given in paths:
        if not os.path.lexists(given):
            errors.append(InputError("no such file or folder", 0, given))
            continue
        real = os.path.realpath(given)
        if not is_inside(real, root_for(given)):
            errors.append(InputError(f"{OUTSIDE}; not read", 0, given))
            continue
        shown = _shown(given, real)
        if os.path.isfile(real):
            if real not in seen:
                seen.add(real)
                config = config_for(os.path.dirname(shown) or ".") if config_for else None
                targets.append(Target(shown, kind_for(shown, config), explicit=True))
        elif os.path.isdir(real):
            walked, problems = _walk(shown, real, config_for(shown) if config_for else None)
            errors.extend(problems)
            if not walked and not problems:
                errors.append(InputError("no Dockerfiles or compose files found here", 0, given))
            for path, kind, key in walked:
                if key not in seen:  # a file reached twice (a link and its target, or two named folders) counts once
                    seen.add(key)
                    targets.append(Target(path, kind))
        else:
            errors.append(InputError("not a regular file or folder", 0, given))
    return targets, errors


def _shown(given: str, real: str) -> str:
    """How to name a path: as given, or, when a link leads elsewhere, by where it leads."""
    if real == os.path.abspath(given):
        return given
    return real if os.path.isabs(given) else os.path.relpath(real)


def _walk(top: str, real_top: str, config) -> tuple[list[tuple[str, str, str]], list[InputError]]:
    """(path, kind, resolved path) of matching regular files under top, and problems found on the way.

    Iterative, so the depth of the tree cannot exhaust the stack. Names that match but are not
    regular files (FIFOs, devices) are errors: reading a FIFO would block forever.
    """
    rules = [(top, IgnoreRules(_gitignore_lines(top)))]
    if config is not None:
        base = os.path.dirname(config.source) if config.source else top
        rules.append((base, IgnoreRules(list(config.exclude))))
    rules = [(base, r) for base, r in rules if r]
    found, problems = [], []
    stack = [(top, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError:
            continue  # an unreadable folder is skipped, as before
        subfolders = []
        for entry in entries:
            path = os.path.normpath(os.path.join(folder, entry.name))
            if _is_folder(entry):
                if entry.name not in SKIPPED_FOLDERS and not _ignored(rules, path, True):
                    subfolders.append(path)
                continue
            kind = kind_of_name(entry.name, config)
            if kind is None or _ignored(rules, path, False):
                continue
            if entry.is_symlink():
                # Follow a link only to a regular file inside the folder being scanned, and name it by that file.
                real = os.path.realpath(path)
                if is_inside(real, real_top) and os.path.isfile(real):
                    shown = os.path.normpath(os.path.join(top, os.path.relpath(real, real_top)))
                    found.append((shown, kind_of_name(os.path.basename(real), config) or kind, real))
            elif _is_file(entry):
                found.append((path, kind, os.path.join(real_top, os.path.relpath(path, top))))
            else:
                problems.append(InputError("not a regular file", 0, path))
        if subfolders and depth >= MAX_DEPTH:
            problems.append(InputError(f"folders nested more than {MAX_DEPTH} deep; not scanned further", 0, folder))
            continue
        stack.extend((sub, depth + 1) for sub in reversed(subfolders))
    return found, problems


def _is_folder(entry) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _is_file(entry) -> bool:
    try:
        return entry.is_file(follow_symlinks=False)
    except OSError:
        return False


def _gitignore_lines(root: str) -> list[str]:
    """The folder's `.gitignore`; like git, not through a link (nor from a FIFO, which would block)."""
    try:
        fd = os.open(os.path.join(root, ".gitignore"), os.O_RDONLY | _NOFOLLOW | _NONBLOCK)
    except OSError:
        return []
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            return []
        return fh.read(MAX_IGNORE_BYTES).decode("utf-8", "replace").splitlines()


def _ignored(rules, path: str, is_dir: bool) -> bool:
    for base, ignore in rules:
        rel = os.path.relpath(path, base).replace(os.sep, "/")
        if not rel.startswith("../") and ignore.matches(rel, is_dir):
            return True
    return False


# -- gitignore-style patterns ----------------------------------------------------------------------------
# Patterns come from the files being checked, so matching must take time linear in the name: a
# regular expression with several `*` can backtrack for as long as the name allows. Each `*` here
# commits to the earliest place the text after it fits (an atomic lookahead), and `**` is matched
# component by component with a single fallback point: neither ever backtracks further.

MAX_PATTERN = 4096  # longer than any path the system opens; such a line can match nothing real
_STAR = object()
_GLOBSTAR = object()
_GROUPS = itertools.count()


class IgnoreRules:
    """The lines of a `.gitignore` (or `exclude`): later lines win, `!` re-includes, `/` anchors."""

    def __init__(self, lines: list[str]):
        self.patterns = [p for p in map(_Pattern.parse, lines) if p is not None]
        self._folders: dict[tuple[str, ...], bool] = {}
        # Most names match no pattern: one expression over every unanchored pattern that ignores says so
        # at once (each alternative is linear, so the whole is too).
        by_name = [p.segments[0].__self__.pattern for p in self.patterns if not p.anchored and not p.negated]
        self._maybe = re.compile("|".join(f"(?:{r})" for r in by_name), re.DOTALL).fullmatch if by_name else None
        self._anchored = any(p.anchored and not p.negated for p in self.patterns)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def matches(self, rel: str, is_dir: bool) -> bool:
        """Whether a path (relative, `/`-separated) is ignored."""
        parts = tuple(rel.split("/"))
        # Inside an ignored folder everything is ignored; nothing there can be re-included.
        for n in range(1, len(parts) + is_dir):
            folder = parts[:n]
            if folder not in self._folders:
                self._folders[folder] = self._decide(folder, True)
            if self._folders[folder]:
                return True
        return False if is_dir else self._decide(parts, False)

    def _decide(self, parts: tuple[str, ...], is_dir: bool) -> bool:
        if not self._anchored and (self._maybe is None or self._maybe(parts[-1]) is None):
            return False
        ignored = False
        for pattern in self.patterns:
            if pattern.negated == ignored and pattern.matches(parts, is_dir):
                ignored = not ignored
        return ignored


class _Pattern:
    __slots__ = ("negated", "dir_only", "anchored", "segments")

    def __init__(self, negated: bool, dir_only: bool, anchored: bool, segments: list):
        self.negated, self.dir_only, self.anchored, self.segments = negated, dir_only, anchored, segments

    @classmethod
    def parse(cls, line: str) -> _Pattern | None:
        if len(line) > MAX_PATTERN or not line or line.startswith("#"):
            return None
        end = len(line)
        while end and line[end - 1] == " " and not (end > 1 and line[end - 2] == "\\"):
            end -= 1  # trailing spaces are dropped unless escaped
        line = line[:end]
        negated = line.startswith("!")
        if negated:
            line = line[1:]
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        anchored = "/" in line
        texts = [t for t in line.split("/") if t]
        if not texts:
            return None
        if not anchored:
            return cls(negated, dir_only, False, [_segment(texts[0])])
        segments: list = []
        for text in texts:
            if text == "**":
                if not segments or segments[-1] is not _GLOBSTAR:
                    segments.append(_GLOBSTAR)
            else:
                segments.append(_segment(text))
        if segments[-1] is _GLOBSTAR:
            segments.append(_segment("*"))  # `dir/**` is everything inside dir, not dir itself
        return cls(negated, dir_only, True, segments)

    def matches(self, parts: tuple[str, ...], is_dir: bool) -> bool:
        if self.dir_only and not is_dir:
            return False
        if not self.anchored:
            return self.segments[0](parts[-1]) is not None
        return _match_components(self.segments, parts)


def _match_components(segments: list, parts: tuple[str, ...]) -> bool:
    """Wildcard matching over path components, `**` matching any number of them; no backtracking."""
    s = p = 0
    star = -1  # index of the last `**` seen, and where its span currently ends
    star_end = 0
    while p < len(parts):
        if s < len(segments) and segments[s] is _GLOBSTAR:
            star, star_end = s, p
            s += 1
        elif s < len(segments) and segments[s](parts[p]) is not None:
            s += 1
            p += 1
        elif star >= 0:
            star_end += 1  # let the last `**` take one more component, and retry after it
            s, p = star + 1, star_end
        else:
            return False
    while s < len(segments) and segments[s] is _GLOBSTAR:
        s += 1
    return s == len(segments)


def _segment(text: str):
    """A compiled matcher for one path component: `*`, `?`, `[...]` and backslash escapes."""
    tokens: list = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "*":
            if not tokens or tokens[-1] is not _STAR:
                tokens.append(_STAR)
            i += 1
        elif c == "?":
            tokens.append(".")
            i += 1
        elif c == "[" and (found := _char_class(text, i)) is not None:
            tokens.append(found[0])
            i = found[1]
        elif c == "\\" and i + 1 < len(text):
            tokens.append(re.escape(text[i + 1]))
            i += 2
        else:
            tokens.append(re.escape(c))
            i += 1
    runs: list[list[str]] = [[]]
    for token in tokens:
        if token is _STAR:
            runs.append([])
        else:
            runs[-1].append(token)
    pieces = ["".join(runs[0])]
    for run in runs[1:-1]:
        # The earliest place this run fits, then commit to it: the lookahead is never re-entered.
        group = f"g{next(_GROUPS)}"  # unique, so expressions can be combined
        pieces.append(f"(?=(?P<{group}>.*?{''.join(run)}))(?P={group})")
    if len(runs) > 1:
        pieces.append(".*" + "".join(runs[-1]))
    return re.compile("".join(pieces), re.DOTALL).fullmatch


def _char_class(text: str, start: int) -> tuple[str, int] | None:
    """`[...]` at start as a regular-expression class and the index after it, or None if unterminated."""
    i = start + 1
    negated = i < len(text) and text[i] in "!^"
    if negated:
        i += 1
    items = []
    first = True
    while i < len(text):
        c = text[i]
        if c == "]" and not first:
            if not items:  # only reversed ranges: a class of nothing
                return ("." if negated else "(?!)"), i + 1
            return ("[^" if negated else "[") + "".join(items) + "]", i + 1
        if c == "\\" and i + 1 < len(text):
            i += 1
            c = text[i]
        if i + 2 < len(text) and text[i + 1] == "-" and text[i + 2] != "]":
            high = text[i + 2]
            if high >= c:
                items.append(f"{re.escape(c)}-{re.escape(high)}")
            i += 3
        else:
            items.append(re.escape(c))
            i += 1
        first = False
    return None
