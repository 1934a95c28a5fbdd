"""File kinds: which files hardener reads, and what it knows about each.

Each kind is one package, `hardener/<kind>/`, whose `kind` module defines a `FileKind`: the name
patterns that discovery matches, parse, verify, pin targets, the optional external check, and the
package of its rules (`hardener/<kind>/rules/`). A kind is registered in `KIND_MODULES` below and
nowhere else. Kind modules are light: a kind's parser and rules load when a file of that kind is read.
"""

from __future__ import annotations

import fnmatch
import importlib
from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    from hardener.config import Config
    from hardener.model import AppliedFix
    from hardener.pinning import PinTarget

# The one place a kind is registered: its name and the module that defines it.
KIND_MODULES = {
    "dockerfile": "hardener.dockerfile.kind",
    "compose": "hardener.compose.kind",
    "python": "hardener.python.kind",
}
# Templates and notes that share a source file's name but are not sources.
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
    # BuildKit's ignore file for one Dockerfile (Dockerfile.dockerignore)
    ".dockerignore",
)


class Document(Protocol):
    """What the engine and suppressions need of a parsed file; rules use the kind's own model beyond it."""

    text: str
    path: str
    comment_lines: list[str]  # every whole-line comment, for `global ignore=` pragmas

    def comments_for(self, line: int) -> tuple[str, ...]:
        """The comments that may suppress a finding on this line (above it, or at its end)."""
        ...


class FileKind:
    """What hardener knows about one kind of file. Subclasses live in `hardener/<kind>/kind.py`."""

    name: ClassVar[str]
    # Base names matched case-insensitively, as fnmatch patterns.
    patterns: ClassVar[tuple[str, ...]]
    # Names that match `patterns` but are another kind's file, or none (fnmatch, case-insensitive).
    not_patterns: ClassVar[tuple[str, ...]] = ()
    # Suffixes that make a file named on the command line this kind when no pattern matched it.
    named_suffixes: ClassVar[tuple[str, ...]] = ()
    # How the pull request's description names these files and what re-reads them after a fix:
    # "{plural} {parsed_with}", e.g. "Dockerfiles with BuildKit's parser".
    plural: ClassVar[str]
    parsed_with: ClassVar[str]
    # The kind's own program that checks a fixed file too, if it has one ("Docker Compose").
    external_check_name: ClassVar[str | None] = None
    # About how many bytes of memory the parsed document of one character of text takes (measured on the
    # shared corpus): the runner keeps documents from its pinning pre-pass within a budget of this.
    document_bytes_per_char: ClassVar[int] = 100
    # Files of this kind are about containers only when their content says so (`is_relevant`): one found by
    # walking a folder that cannot be read is skipped rather than reported.
    found_by_content: ClassVar[bool] = False

    @property
    def rules_package(self) -> str:
        """The `rules` package beside the module that defines the kind."""
        return type(self).__module__.rpartition(".")[0] + ".rules"

    def extra_patterns(self, config: Config | None) -> tuple[str, ...]:
        """More name patterns from the settings (none unless the kind has a setting for them)."""
        return ()

    def is_relevant(self, text: str) -> bool:
        """Whether a file of this kind, found by walking a folder, is about containers at all."""
        return True

    def parse(self, text: str, path: str) -> Document:
        """The located model of the file; raises InputError naming the line for bad input."""
        raise NotImplementedError

    def verify(self, before, after) -> None:
        """Kind-specific checks of a fixed document against the original; raise VerificationError."""

    def pin_targets(self, document) -> list[PinTarget]:
        """The image references in the document that a digest would pin."""
        return []

    def has_external_check(self, config: Config) -> bool:
        """Whether fixing runs the kind's own program on the result (worth running files in threads)."""
        return False

    def external_check(
        self, original: str, fixed: str, path: str, applied: list[AppliedFix]
    ) -> tuple[str | None, str | None]:
        """(error, note): an error rejects the fixes; a note says why the check could not run."""
        return None, None


_loaded: dict[str, FileKind] = {}


def kind_named(name: str) -> FileKind:
    kind = _loaded.get(name)
    if kind is None:
        if name not in KIND_MODULES:
            raise ValueError(f"unknown kind {name}")
        kind = _loaded[name] = importlib.import_module(KIND_MODULES[name]).KIND
    return kind


def all_kinds() -> list[FileKind]:
    return [kind_named(name) for name in KIND_MODULES]


def kind_of_name(name: str, config: Config | None = None) -> str | None:
    """The kind a file name announces, or None (used when walking folders)."""
    lower = name.lower()
    kinds = all_kinds()
    for kind in kinds:  # patterns from the settings come first, and win over templates' suffixes
        if any(fnmatch.fnmatchcase(lower, p.lower()) for p in kind.extra_patterns(config)):
            return kind.name
    if lower.endswith(_NOT_SOURCES):
        return None
    for kind in kinds:
        if any(fnmatch.fnmatchcase(lower, p) for p in kind.patterns) and not any(
            fnmatch.fnmatchcase(lower, p) for p in kind.not_patterns
        ):
            return kind.name
    return None


def kind_for(path: str, config: Config | None = None) -> str:
    """The kind of a file named on the command line.

    Unknown names are read by the kind that claims their suffix (YAML: compose files), else as Dockerfiles.
    """
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    kind = kind_of_name(name, config)
    if kind is None:
        kind = next((k.name for k in all_kinds() if name.lower().endswith(k.named_suffixes)), None)
    return kind or DEFAULT_KIND


DEFAULT_KIND = "dockerfile"
