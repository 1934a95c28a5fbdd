"""Finding the files to work on: named files, and matching files under folders.

Nothing outside the root (see `hardener.files`) is used: a named path that leads outside it is an
error, and a link found while walking a folder is followed only to a file inside that folder. A link
is replaced by its target, so a file is worked on once, under its own name, and the link stays a link.

What git ignores is skipped, with git's meaning: every `.gitignore` from the repository's root down,
each relative to its own folder, a deeper one over a shallower one, then `.git/info/exclude`.
"""

from __future__ import annotations

import itertools
import os
import re
import stat
from dataclasses import dataclass

from hardener.files import OUTSIDE, is_inside, repository_of, root_for
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
# GitHub reads the YAML in these folders of `.github` as its own (workflows, issue and discussion forms):
# `dockerfile.yml` or `docker-compose-test.yml` there is a workflow, not a Dockerfile or a compose file.
GITHUB_FOLDERS = frozenset({"workflows", "ISSUE_TEMPLATE", "DISCUSSION_TEMPLATE"})
# Deeper than any real project; the walk is iterative, this only keeps paths within what the system opens.
MAX_DEPTH = 100
MAX_IGNORE_BYTES = 1024 * 1024  # of a .gitignore (or .git/info/exclude); more is not a list of patterns anyone wrote
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
        root = root_for(given)
        if not is_inside(real, root):
            errors.append(InputError(f"{OUTSIDE}; not read", 0, given))
            continue
        shown = _shown(given, real)
        if os.path.isfile(real):
            if real not in seen:
                seen.add(real)
                config = config_for(os.path.dirname(shown) or ".") if config_for else None
                targets.append(Target(shown, kind_for(shown, config), explicit=True))
        elif os.path.isdir(real):
            walked, problems = _walk(shown, real, root, config_for(shown) if config_for else None)
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


def _walk(top: str, real_top: str, root: str, config) -> tuple[list[tuple[str, str, str]], list[InputError]]:
    """(path, kind, resolved path) of matching regular files under top, and problems found on the way.

    Iterative, so the depth of the tree cannot exhaust the stack. Names that match but are not
    regular files (FIFOs, devices) are errors: reading a FIFO would block forever.
    """
    excluded = None  # the settings' `exclude`, relative to the settings file
    if config is not None and config.exclude:
        excluded = (os.path.dirname(config.source) if config.source else top, IgnoreRules(list(config.exclude)))
    found, problems = [], []
    parts, levels = _levels_above(real_top, root)
    stack = [(top, 0, parts, levels)]
    while stack:
        folder, depth, parts, levels = stack.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError:
            continue  # an unreadable folder is skipped, as before
        levels = _levels_here(folder, depth, entries, parts, levels)
        subfolders = []
        for entry in entries:
            path = os.path.normpath(os.path.join(folder, entry.name))
            here = (*parts, entry.name)
            if _is_folder(entry):
                if not _skipped_folder(folder, entry.name) and not _ignored(levels, here, excluded, path, True):
                    subfolders.append((path, here))
                continue
            kind = kind_of_name(entry.name, config)
            if kind is None or _ignored(levels, here, excluded, path, False):
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
        stack.extend((sub, depth + 1, here, levels) for sub, here in reversed(subfolders))
    return found, problems


def _skipped_folder(folder: str, name: str) -> bool:
    return name in SKIPPED_FOLDERS or name in GITHUB_FOLDERS and os.path.basename(os.path.abspath(folder)) == ".github"


# -- what git ignores ------------------------------------------------------------------------------------
# A walked path is named by its components from the repository's root (`parts`); each level of patterns
# is (how many of those components its folder has, its rules), shallowest first, `.git/info/exclude` below all.


def _levels_above(real_top: str, root: str) -> tuple[tuple[str, ...], tuple]:
    """The top's components from its repository's root, and the levels from the folders above it.

    Outside a repository (or one whose root is outside hardener's root) only the folders walked count.
    """
    repository = repository_of(real_top)
    if repository is None or not is_inside(repository, root):
        return (), ()
    parts = () if real_top == repository else tuple(os.path.relpath(real_top, repository).split(os.sep))
    levels = _repository_levels(repository)
    folder = repository
    for n in range(len(parts)):
        levels = _with(levels, n, _pattern_lines(os.path.join(folder, ".gitignore")))
        folder = os.path.join(folder, parts[n])
    return parts, levels


def _levels_here(folder: str, depth: int, entries, parts: tuple[str, ...], levels: tuple) -> tuple:
    """The levels that apply inside a walked folder: those above, and its own `.gitignore`.

    A folder below the top that holds `.git` is another repository (a submodule, a checkout inside the
    checkout): the rules above it do not apply there, and its `.git/info/exclude` does, when `.git` is a folder.
    Only a `.gitignore` listed as a regular file is opened, so a folder costs no more than its listing.
    """
    names = {entry.name: entry for entry in entries}
    if depth and ".git" in names:
        levels = _repository_levels(folder, len(parts))
    own = names.get(".gitignore")
    if own is not None and _is_file(own):
        levels = _with(levels, len(parts), _pattern_lines(os.path.join(folder, ".gitignore")))
    return levels


def _repository_levels(repository: str, depth: int = 0) -> tuple:
    info = os.path.join(repository, ".git", "info")
    if os.path.realpath(info) != os.path.abspath(info):
        return ()  # through a link, it may lead out of the repository: not read
    return _with((), depth, _pattern_lines(os.path.join(info, "exclude")))


def _with(levels: tuple, depth: int, lines: list[str]) -> tuple:
    rules = IgnoreRules(lines)
    return (*levels, (depth, rules)) if rules else levels


def _ignored(levels: tuple, parts: tuple[str, ...], excluded, path: str, is_dir: bool) -> bool:
    """Whether git ignores the path (the deepest level with a matching pattern decides), or the settings exclude it.

    The folders above were already decided on the way down: nothing below an ignored folder is reached.
    """
    for depth, rules in reversed(levels):
        verdict = rules.verdict(parts[depth:], is_dir)
        if verdict is not None:
            if verdict:
                return True
            break
    if excluded is not None:
        base, rules = excluded
        rel = os.path.relpath(path, base).replace(os.sep, "/")
        return not rel.startswith("../") and rules.matches(rel, is_dir)
    return False


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


def _pattern_lines(path: str) -> list[str]:
    """A `.gitignore` (or `.git/info/exclude`); like git, not through a link (nor from a FIFO, which would block)."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK)
    except OSError:
        return []
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            return []
        # git skips a byte-order mark at the start
        return fh.read(MAX_IGNORE_BYTES).decode("utf-8-sig", "replace").splitlines()


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
        # Most names match no pattern: one expression over every unanchored pattern says so at once
        # (each alternative is linear, so the whole is too).
        by_name = [p.segments[0].__self__.pattern for p in self.patterns if not p.anchored]
        self._maybe = re.compile("|".join(f"(?:{r})" for r in by_name), re.DOTALL).fullmatch if by_name else None
        self._anchored = any(p.anchored for p in self.patterns)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def matches(self, rel: str, is_dir: bool) -> bool:
        """Whether a path (relative, `/`-separated) is ignored."""
        parts = tuple(rel.split("/"))
        # Inside an ignored folder everything is ignored; nothing there can be re-included.
        for n in range(1, len(parts) + is_dir):
            folder = parts[:n]
            if folder not in self._folders:
                self._folders[folder] = self.verdict(folder, True) is True
            if self._folders[folder]:
                return True
        return False if is_dir else self.verdict(parts, False) is True

    def verdict(self, parts: tuple[str, ...], is_dir: bool) -> bool | None:
        """What the last pattern matching the path itself says (ignored or re-included), or None if none does.

        The folders above it are not looked at: `matches` does that, and so does a walk on its way down.
        """
        if not self._anchored and (self._maybe is None or self._maybe(parts[-1]) is None):
            return None
        for pattern in reversed(self.patterns):
            if pattern.matches(parts, is_dir):
                return not pattern.negated
        return None


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
    items: list = []
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
