"""Reading the repository around the files of a run: the evidence behaviour-changing fixes rest on.

The edge reads, once per run and within the root: the scripts a build may copy (`*.sh`, files that
start with `#!`), Makefiles and justfiles, CI workflows, and `.env` files, besides the container files
the run already read. The core gets them as a `Repository` of texts. Links are never followed, only
regular files are opened, and sizes and counts are bounded: what is left out is recorded as unread.
"""

from __future__ import annotations

import os
import stat

from hardener.discovery import MAX_DEPTH, SKIPPED_FOLDERS
from hardener.evidence.repository import Repository
from hardener.files import is_inside, repository_of, root_for

MAX_FILE_BYTES = 256 * 1024
MAX_TOTAL_BYTES = 16 * 1024 * 1024
MAX_FILES = 3000
MAX_ENTRIES = 200_000  # folder entries looked at, however many files they hold
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_SUPPORT_NAMES = {"makefile", "gnumakefile", "justfile", "taskfile.yml", "taskfile.yaml", ".gitlab-ci.yml"}
_SCRIPT_SUFFIXES = (".sh", ".bash", ".ash", ".mk")
# Hidden folders worth reading: CI workflows, dev containers, s6-overlay service trees under them.
_HIDDEN_READ = {".github", ".gitlab", ".devcontainer", ".circleci", ".ci", ".docker"}


def evidence_root(path: str) -> str:
    """The folder whose files are the evidence for `path`: its git repository, within the run's root."""
    root = root_for(path)
    real = os.path.realpath(path)
    start = real if os.path.isdir(real) else os.path.dirname(real)
    repository = repository_of(start)
    if repository is not None and is_inside(repository, root):
        return repository
    return root if is_inside(start, root) else start


def repository_root_of(path: str, named_roots: list[str]) -> str:
    """The repository a file of the run belongs to: that of the path named on the command line that holds
    it (the git repository around it, or the named folder itself), else its own."""
    from hardener.files import is_inside

    real = os.path.realpath(path)
    return next((r for r in named_roots if is_inside(real, r)), None) or evidence_root(path)


def read_repository(root: str, container_files: dict[str, str]) -> Repository:
    """The supporting texts below `root` (repository-relative paths), with the run's container files."""
    files: dict[str, str] = dict(container_files)
    unread: set[str] = set()
    present: set[str] = set()
    total = sum(len(t) for t in files.values())
    entries = 0
    for folder, relative_folder, names, links in _walk(root):
        for name in links:
            relative = f"{relative_folder}/{name}" if relative_folder else name
            present.add(relative)
            if _named_for_evidence(relative, name):
                unread.add(relative)
        for name in names:
            entries += 1
            if entries > MAX_ENTRIES:
                return Repository(files, True, frozenset(unread), frozenset(present | set(files)))
            relative = f"{relative_folder}/{name}" if relative_folder else name
            present.add(relative)
            if relative in files or not _wanted(relative, name):
                continue
            if len(files) >= MAX_FILES or total >= MAX_TOTAL_BYTES:
                unread.add(relative)
                continue
            text = _read_text(os.path.join(folder, name), name)
            if text is None:
                if _named_for_evidence(relative, name):
                    unread.add(relative)
                continue
            files[relative] = text
            total += len(text)
    return Repository(files, True, frozenset(unread), frozenset(present | set(files)))


def _walk(root: str):
    """(folder, its path from the root, its file names, its links) for each folder, iteratively and without
    following links; deeper than MAX_DEPTH is not read."""
    pending = [(root, "", 0)]
    while pending:
        folder, relative, depth = pending.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError:
            continue
        names, links = [], []
        for entry in entries:
            try:
                if entry.is_symlink():
                    links.append(entry.name)  # never followed: reported as not read
                elif entry.is_dir(follow_symlinks=False):
                    if (
                        depth < MAX_DEPTH
                        and entry.name not in SKIPPED_FOLDERS
                        and (not entry.name.startswith(".") or entry.name in _HIDDEN_READ)
                    ):
                        pending.append((entry.path, f"{relative}/{entry.name}" if relative else entry.name, depth + 1))
                elif entry.is_file(follow_symlinks=False):
                    names.append(entry.name)
            except OSError:
                continue
        yield folder, relative, names, links


def _named_for_evidence(relative: str, name: str) -> bool:
    lower = name.lower()
    return (
        lower in _SUPPORT_NAMES
        or lower.endswith(_SCRIPT_SUFFIXES)
        or lower == ".env"
        or lower.startswith(".env.")
        or (relative.startswith(".github/workflows/") and lower.endswith((".yml", ".yaml")))
    )


def _wanted(relative: str, name: str) -> bool:
    """Worth opening: named as evidence, or a file without a suffix that may be a script (`#!`)."""
    return _named_for_evidence(relative, name) or ("." not in name and not name.isupper())


def _read_text(path: str, name: str) -> str | None:
    """A regular file's text (UTF-8), or None: a link, too large, binary, or not a script when only maybe one."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _CLOEXEC)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
            return None
        data = os.read(fd, MAX_FILE_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    if b"\0" in data:
        return None
    if "." not in name and not _named_for_evidence(name, name) and not data.startswith(b"#!"):
        return None  # a file without a suffix is read only when it is a script
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
