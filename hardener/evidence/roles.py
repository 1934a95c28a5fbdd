"""Each file's role in its repository: production, development, test, example, CI or an override.

Behaviour-changing fixes apply to production files by default: a development stack keeps its dev
password and its root user, a test fixture stays what the test expects. The role comes from the
settings (`file-roles`), else the file's folders, else its name, else who starts it (a Makefile target
or a CI workflow that names it), else it is production. Every role carries the reason it was given.
"""

from __future__ import annotations

import enum
import fnmatch
import posixpath
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hardener.evidence.repository import Repository, normalise

if TYPE_CHECKING:
    from hardener.config import Config


class Role(str, enum.Enum):
    PRODUCTION = "production"
    DEVELOPMENT = "development"
    TEST = "test"
    EXAMPLE = "example"
    CI = "ci"
    OVERRIDE = "override"


# What each role gets unless the settings' `roles` table says otherwise: "fix" (every allowed fix),
# "report" (behaviour-changing fixes are reported, not applied) or "off" (no findings at all).
DEFAULT_ACTIONS = {
    Role.PRODUCTION: "fix",
    Role.DEVELOPMENT: "report",
    Role.TEST: "report",
    Role.EXAMPLE: "report",
    Role.CI: "report",
    Role.OVERRIDE: "report",
}
ACTIONS = ("fix", "report", "off")

_FOLDERS = {
    Role.TEST: {
        "test",
        "tests",
        "testing",
        "e2e",
        "integration",
        "integration-tests",
        "integration_tests",
        "it",
        "testdata",
        "test-data",
        "test_data",
        "fixtures",
        "__tests__",
        "spec",
        "specs",
        "benchmark",
        "benchmarks",
        "harness",
        "smoke",
        "smoke-tests",
        "acceptance",
    },
    Role.EXAMPLE: {
        "example",
        "examples",
        "sample",
        "samples",
        "demo",
        "demos",
        "tutorial",
        "tutorials",
        "quickstart",
        "templates",
        "template",
        "playground",
        "showcase",
        "cookbook",
    },
    Role.DEVELOPMENT: {"dev", ".devcontainer", "devcontainer", "development", "local", "sandbox"},
    Role.CI: {".github", ".gitlab", ".circleci", ".buildkite", "ci", ".ci", ".woodpecker", ".drone"},
}
_NAME_WORDS = {
    Role.OVERRIDE: {"override"},
    Role.TEST: {"test", "tests", "testing", "e2e", "integration", "it", "benchmark", "smoke", "spec"},
    Role.EXAMPLE: {"example", "examples", "sample", "demo"},
    Role.DEVELOPMENT: {"dev", "develop", "development", "local", "devcontainer", "debug", "watch", "hotreload"},
    Role.CI: {"ci"},
}
_PRODUCTION_WORDS = {"prod", "production", "release", "deploy", "live", "stable"}
# Makefile and CI job names that say what starting a file is for.
_TARGET_ROLES = (
    (re.compile(r"(^|[-_:])(test|tests|e2e|it|integration|check|bench|smoke)([-_:]|$)", re.I), Role.TEST),
    (re.compile(r"(^|[-_:])(dev|develop|local|watch|debug)([-_:]|$)", re.I), Role.DEVELOPMENT),
)
_PRODUCTION_TARGETS = re.compile(r"(^|[-_:])(deploy|release|prod|production|publish|push)([-_:]|$)", re.I)
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class FileRole:
    role: Role
    reason: str  # why: "folder `tests/`", "file name `docker-compose.dev.yml`", ...

    def __str__(self) -> str:
        return f"{self.role.value} ({self.reason})"


def role_of(path: str, repository: Repository, config: Config | None = None) -> FileRole:
    """The role of the file at `path` (relative to the repository's root)."""
    path = normalise(path)
    for pattern, role in config.file_roles if config is not None else ():
        if _matches(path, pattern):
            return FileRole(Role(role), f"settings: file-roles {pattern!r}")
    folders = path.split("/")[:-1]
    for folder in folders:
        for role, names in _FOLDERS.items():
            if folder.lower() in names:
                return FileRole(role, f"folder `{folder}/`")
    name = posixpath.basename(path)
    words = set(_WORD.findall(name.lower()))
    if not words & _PRODUCTION_WORDS:
        for role, names in _NAME_WORDS.items():
            hit = next((w for w in sorted(words) if w in names), None)
            if hit:
                return FileRole(role, f"file name `{name}`")
    started = _started_by(path, repository)
    if started is not None:
        return started
    if words & _PRODUCTION_WORDS:
        return FileRole(Role.PRODUCTION, f"file name `{name}`")
    return FileRole(Role.PRODUCTION, "no sign of another role in its path, name, Makefile or CI workflows")


def _matches(path: str, pattern: str) -> bool:
    pattern = pattern.strip().lstrip("/")
    if "/" not in pattern.rstrip("/"):
        return fnmatch.fnmatchcase(posixpath.basename(path), pattern) or any(
            fnmatch.fnmatchcase(part, pattern.rstrip("/")) for part in path.split("/")[:-1]
        )
    return fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(path, pattern.rstrip("/") + "/*")


def _started_by(path: str, repository: Repository) -> FileRole | None:
    """The role the Makefile targets and CI workflows that name this file give it, when they all agree.

    A file named by any deploy or release target, or by nothing that says test or dev, stays production.
    """
    name = posixpath.basename(path)
    if name.lower() in ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml", "dockerfile"):
        return None  # the default name is what every command starts without naming it: mentions say little
    roles: set[Role] = set()
    first = None
    for where, target in _starting_targets(path, repository):
        if _PRODUCTION_TARGETS.search(target):
            return None
        role = next((r for pattern, r in _TARGET_ROLES if pattern.search(target)), None)
        if role is None and where.startswith(".github/workflows/"):
            role = Role.CI
        if role is None:
            return None
        roles.add(role)
        first = first or (where, target)
    if len(roles) == 1 and first is not None:
        role = roles.pop()
        return FileRole(role, f"started only by `{first[1]}` in `{first[0]}`")
    return None


def _starting_targets(path: str, repository: Repository):
    """(file, target or job) pairs whose commands name the file at `path`."""
    name = posixpath.basename(path)
    mentions = re.compile(
        r"(?<![\w.-])(\./)?" + re.escape(path) + r"(?![\w.-])|(?<![\w./-])" + re.escape(name) + r"(?![\w.-])"
    )
    for where in repository.files:
        base = posixpath.basename(where).lower()
        text = repository.files[where]
        if base in ("makefile", "gnumakefile") or base.endswith(".mk") or base == "justfile":
            for target, recipe in _make_targets(text):
                if mentions.search(recipe):
                    yield where, target
        elif where.startswith(".github/workflows/") or base == ".gitlab-ci.yml":
            for job, body in _workflow_jobs(text):
                if mentions.search(body):
                    yield where, job


_MAKE_RULE = re.compile(r"^([A-Za-z0-9][\w./-]*(?:\s+[A-Za-z0-9][\w./-]*)*)\s*:(?!=)", re.M)


def _make_targets(text: str):
    """(target, recipe text) for each rule of a Makefile (or justfile), recipes being the lines after it."""
    lines = text.splitlines()
    current: str | None = None
    recipe: list[str] = []
    for line in [*lines, "end-of-file:"]:
        match = _MAKE_RULE.match(line)
        if match and not line.startswith(("\t", " ")):
            if current is not None:
                yield current, "\n".join(recipe)
            current, recipe = match.group(1).split()[0], [line[match.end() :]]
        elif current is not None:
            recipe.append(line)


def _workflow_jobs(text: str):
    """(job name, job text) for each job of a GitHub workflow (keys under `jobs:`) or GitLab CI file
    (top-level keys), read by indentation only: the file may not be ours to parse strictly."""
    lines = text.splitlines()
    under_jobs = any(line.rstrip() == "jobs:" for line in lines)
    job_indent = None
    current: str | None = None
    body: list[str] = []
    in_jobs = not under_jobs
    for line in [*lines, "end-of-file:"]:
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        if not stripped or stripped.startswith("#"):
            continue
        if indent == 0:
            if current is not None:
                yield current, "\n".join(body)
            current, body = None, []
            if under_jobs:
                in_jobs = line.rstrip() == "jobs:"
            elif line.rstrip().endswith(":") and not line.startswith("."):
                current = line.rstrip()[:-1].strip()
            continue
        if under_jobs and in_jobs and (job_indent is None or indent == job_indent) and stripped.rstrip().endswith(":"):
            if current is not None:
                yield current, "\n".join(body)
            job_indent = indent
            current, body = stripped.rstrip()[:-1].strip(), []
            continue
        if current is not None:
            body.append(line)
