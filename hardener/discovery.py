"""Finding the files to work on: named files, and matching files under folders."""

from __future__ import annotations

import os
from dataclasses import dataclass

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
        if os.path.isfile(given):
            key = os.path.realpath(given)
            if key not in seen:
                seen.add(key)
                extra = config_for(os.path.dirname(given) or ".").compose_files if config_for else ()
                targets.append(Target(given, kind_for(given, extra), explicit=True))
        elif os.path.isdir(given):
            walked, irregular = _walk(given, config_for(given) if config_for else None)
            errors.extend(InputError("not a regular file", 0, path) for path in irregular)
            found = [t for t in walked if os.path.realpath(t.path) not in seen]
            if not found and not irregular:
                errors.append(InputError("no Dockerfiles or compose files found here", 0, given))
            for t in found:
                seen.add(os.path.realpath(t.path))
                targets.append(t)
        elif os.path.lexists(given):
            errors.append(InputError("not a regular file or folder", 0, given))
        else:
            errors.append(InputError("no such file or folder", 0, given))
    return targets, errors


def _walk(root: str, config) -> tuple[list[Target], list[str]]:
    """Matching regular files under root, and matching names that are not regular files (FIFOs, devices)."""
    specs = [(root, _spec(_gitignore_lines(root)))]
    extra_compose: tuple[str, ...] = ()
    if config is not None:
        base = os.path.dirname(config.source) if config.source else root
        specs.append((base, _spec(list(config.exclude))))
        extra_compose = config.compose_files
    specs = [(base, spec) for base, spec in specs if spec is not None]
    real_root = os.path.realpath(root)
    found, irregular = [], []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(
            d for d in dirs if d not in SKIPPED_FOLDERS and not _ignored(specs, os.path.join(folder, d), True)
        )
        for name in sorted(files):
            kind = kind_of_name(name, extra_compose)
            if kind is None:
                continue
            path = os.path.normpath(os.path.join(folder, name))
            if _ignored(specs, path, False):
                continue
            if not os.path.islink(path) and not os.path.isfile(path):
                irregular.append(path)  # reading a FIFO would block forever
                continue
            if os.path.islink(path):
                # Follow a link only while it stays inside the folder being scanned.
                real = os.path.realpath(path)
                if os.path.commonpath([real, real_root]) != real_root or not os.path.isfile(real):
                    continue
            found.append(Target(path, kind))
    return found, irregular


def _gitignore_lines(root: str) -> list[str]:
    try:
        with open(os.path.join(root, ".gitignore"), encoding="utf-8", errors="replace") as fh:
            return fh.read().splitlines()
    except OSError:
        return []


def _spec(lines: list[str]):
    if not lines:
        return None
    import pathspec

    return pathspec.PathSpec.from_lines("gitwildmatch", lines)


def _ignored(specs, path: str, is_dir: bool) -> bool:
    for base, spec in specs:
        rel = os.path.relpath(path, base).replace(os.sep, "/")
        if not rel.startswith("../") and spec.match_file(rel + "/" if is_dir else rel):
            return True
    return False
