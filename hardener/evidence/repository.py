"""The repository around the file being checked: the texts the edge read, as plain data."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Repository:
    """Texts of a repository's files, by path relative to its root ("docker/entrypoint.sh").

    `files` holds the supporting files the edge read (scripts, Makefiles, CI workflows, `.env` files)
    and the container files of the run. `known` is False when no repository was read at all (a text
    checked on its own): decisions that need a file then say it was not read. `unread` lists files
    named as evidence (scripts, Makefiles) that exist but were not read (too large, too many, not text).
    """

    files: Mapping[str, str] = field(default_factory=dict)
    known: bool = False
    unread: frozenset[str] = frozenset()
    # Every file the edge saw, read or not (programs copied into images are not text to read).
    present: frozenset[str] = frozenset()
    # Derived facts, computed once per repository (see hardener.evidence.builds).
    cache: dict = field(default_factory=dict, compare=False, repr=False, hash=False)

    def text(self, path: str) -> str | None:
        return self.files.get(normalise(path))

    def has(self, path: str) -> bool:
        path = normalise(path)
        return path in self.files or path in self.unread

    def named(self, *names: str) -> list[str]:
        """Paths whose base name is one of `names`, in a stable order."""
        wanted = {n.lower() for n in names}
        return sorted(p for p in self.files if posixpath.basename(p).lower() in wanted)

    def below(self, folder: str) -> list[str]:
        folder = normalise(folder)
        prefix = "" if folder in ("", ".") else folder + "/"
        return sorted(p for p in self.files if p.startswith(prefix))


def normalise(path: str) -> str:
    """A repository path in one spelling: forward slashes, no `./`, no `..` above the root."""
    path = posixpath.normpath(path.replace("\\", "/")).lstrip("/")
    return "" if path == "." else path


def join(folder: str, path: str) -> str | None:
    """`path` taken from `folder` in the repository, or None when it leaves the repository."""
    joined = posixpath.normpath(posixpath.join(normalise(folder) or ".", path.replace("\\", "/")))
    if joined == ".." or joined.startswith("../") or joined.startswith("/"):
        return None
    return "" if joined == "." else joined
