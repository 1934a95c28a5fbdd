"""File kinds: which files hardener reads, and how each kind is parsed and verified."""

from __future__ import annotations

import fnmatch
import re
from collections import Counter

from hardener.model import VerificationError

DOCKERFILE = "dockerfile"
COMPOSE = "compose"
PYTHON = "python"  # modules that start containers with the docker SDK
# Dockerfile instructions fixes may change, add or remove.
_EDITED_INSTRUCTIONS = frozenset({"RUN", "ADD", "COPY", "USER"})

# Names matched case-insensitively against a file's base name.
_PATTERNS = {
    COMPOSE: (
        "compose.yaml",
        "compose.yml",
        "docker-compose.yaml",
        "docker-compose.yml",
        "compose.*.yaml",
        "compose.*.yml",
        "docker-compose.*.yaml",
        "docker-compose.*.yml",
    ),
    DOCKERFILE: ("dockerfile", "dockerfile.*", "*.dockerfile", "containerfile", "containerfile.*", "*.containerfile"),
    PYTHON: ("*.py",),
}
# Templates and notes that share a Dockerfile's name but are not Dockerfiles.
_NOT_SOURCES = (
    ".j2",
    ".jinja",
    ".jinja2",
    ".tmpl",
    ".tpl",
    ".template",
    ".md",
    ".txt",
    ".orig",
    ".rej",
    ".bak",
    ".swp",
    # hardener's own reports, e.g. -o Dockerfile.sarif
    ".sarif",
    ".json",
    ".log",
    ".patch",
    ".diff",
)


def kind_of_name(name: str, extra_compose: tuple[str, ...] = ()) -> str | None:
    """The kind a file name announces, or None (used when walking folders)."""
    lower = name.lower()
    if any(fnmatch.fnmatchcase(lower, p.lower()) for p in extra_compose):
        return COMPOSE
    if lower.endswith(_NOT_SOURCES):
        return None
    for kind, patterns in _PATTERNS.items():
        if any(fnmatch.fnmatchcase(lower, p) for p in patterns):
            return kind
    return None


def kind_for(path: str, extra_compose: tuple[str, ...] = ()) -> str:
    """The kind of a file named on the command line.

    Unknown names are Dockerfiles, except YAML files, which are compose files.
    """
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    kind = kind_of_name(name, extra_compose)
    if kind is None and name.lower().endswith((".yaml", ".yml")):
        return COMPOSE
    return kind or DOCKERFILE


def parse(kind: str, text: str, path: str):
    if kind == DOCKERFILE:
        from hardener.dockerfile.document import DockerfileDocument

        return DockerfileDocument(text, path)
    if kind == COMPOSE:
        from hardener.compose.document import ComposeDocument

        return ComposeDocument(text, path)
    if kind == PYTHON:
        from hardener.python.document import PythonDocument

        return PythonDocument(text, path)
    raise ValueError(f"unknown kind {kind}")


def verify(kind: str, before, after) -> None:
    """Kind-specific checks of a fixed document against the original."""
    if kind == DOCKERFILE:
        if before.directives != after.directives:
            raise VerificationError("parser directives changed")
        bodies = lambda doc: Counter(h for i in doc.instructions for h in i.heredocs)  # noqa: E731
        if bodies(before) != bodies(after):
            raise VerificationError("a heredoc body changed")
        # Instructions hardener never edits must come out as they went in, in order,
        # and every COPY must still be there (new ones come from ADD).
        # Pinning adds @sha256:... to references; nothing else may differ.
        untouched = lambda doc: [  # noqa: E731
            (i.keyword, _unpinned(i.flags), _unpinned(i.value))
            for i in doc.instructions
            if i.keyword not in _EDITED_INSTRUCTIONS
        ]
        copies = lambda doc: Counter(  # noqa: E731
            (_unpinned(i.flags), _unpinned(i.value)) for i in doc.instructions if i.keyword == "COPY"
        )
        if untouched(before) != untouched(after) or copies(before) - copies(after):
            raise VerificationError("an instruction no fix touches changed")
    elif kind == PYTHON:
        problem = _compile_problem(after.text, after.path)
        # Syntax newer than this Python: libcst read both texts, and compile() cannot judge them.
        if problem and _compile_problem(before.text, before.path) is None:
            raise VerificationError(f"the fixed module does not compile: {problem}")
    elif kind == COMPOSE:
        if set(before.anchors) != set(after.anchors) or len(before.aliases) != len(after.aliases):
            raise VerificationError("an anchor or alias changed")
        comments = lambda doc: Counter(  # noqa: E731
            line.strip() for line in doc.text.splitlines() if line.lstrip().startswith("#")
        )
        if comments(before) - comments(after):
            raise VerificationError("a comment was lost")


def _compile_problem(text: str, path: str) -> str | None:
    """Why CPython cannot compile the module, or None. Compiling runs nothing; its warnings
    (invalid escapes and the like) are the module's business, not the report's."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(text, path, "exec")
        except SyntaxError as exc:
            return f"{exc.msg} (line {exc.lineno})"
        except (ValueError, MemoryError, RecursionError) as exc:
            return type(exc).__name__
    return None


_DIGEST_SUFFIX = re.compile(r"@sha256:[0-9a-f]{64}")


def _unpinned(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_DIGEST_SUFFIX.sub("", v) for v in values)
