"""File kinds: which files hardener reads, and how each kind is parsed and verified."""

from __future__ import annotations

import fnmatch
from collections import Counter

from hardener.model import VerificationError

DOCKERFILE = "dockerfile"

# Names matched case-insensitively against a file's base name.
_PATTERNS = {
    DOCKERFILE: ("dockerfile", "dockerfile.*", "*.dockerfile", "containerfile", "containerfile.*", "*.containerfile"),
}
# Templates and notes that share a Dockerfile's name but are not Dockerfiles.
_NOT_SOURCES = (".j2", ".jinja", ".jinja2", ".tmpl", ".tpl", ".template", ".md", ".txt", ".orig", ".rej", ".bak", ".swp")


def kind_of_name(name: str) -> str | None:
    """The kind a file name announces, or None (used when walking folders)."""
    lower = name.lower()
    if lower.endswith(_NOT_SOURCES):
        return None
    for kind, patterns in _PATTERNS.items():
        if any(fnmatch.fnmatchcase(lower, p) for p in patterns):
            return kind
    return None


def kind_for(path: str) -> str:
    """The kind of a file named on the command line; unknown names are Dockerfiles."""
    return kind_of_name(path.replace("\\", "/").rsplit("/", 1)[-1]) or DOCKERFILE


def parse(kind: str, text: str, path: str):
    if kind == DOCKERFILE:
        from hardener.dockerfile.document import DockerfileDocument

        return DockerfileDocument(text, path)
    raise ValueError(f"unknown kind {kind}")


def verify(kind: str, before, after) -> None:
    """Kind-specific checks of a fixed document against the original."""
    if kind == DOCKERFILE:
        if before.directives != after.directives:
            raise VerificationError("parser directives changed")
        bodies = lambda doc: Counter(h for i in doc.instructions for h in i.heredocs)  # noqa: E731
        if bodies(before) != bodies(after):
            raise VerificationError("a heredoc body changed")
