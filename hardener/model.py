"""Plain data shared by every stage of the pipeline: findings, fixes and edits."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace


class Tier(str, enum.Enum):
    """How far a fix may be trusted to keep the container's behaviour."""

    SAFE = "safe"
    BEHAVIOUR_CHANGING = "behaviour-changing"


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, order=True)
class Edit:
    """Replace text[start:end] with content. Offsets index the decoded text."""

    start: int
    end: int
    content: str

    @classmethod
    def insert(cls, at: int, content: str) -> Edit:
        return cls(at, at, content)


@dataclass(frozen=True)
class Fix:
    tier: Tier
    edits: tuple[Edit, ...]
    description: str
    # The region this fix owns (e.g. the whole instruction): no other fix may
    # touch it in the same round, so each fix sees the other's result.
    scope: tuple[int, int] | None = None
    # Compose keys this fix may change ("services.db.cap_drop"): the Compose
    # model check allows differences only there.
    owns: tuple[str, ...] = ()
    # Variables the fixed file requires (secrets moved to interpolation).
    requires: tuple[str, ...] = ()
    # What the fix rests on: the facts read from the repository that make it safe to apply.
    evidence: tuple[str, ...] = ()

    @property
    def span(self) -> tuple[int, int]:
        return min(e.start for e in self.edits), max(e.end for e in self.edits)

    @property
    def regions(self) -> list[tuple[int, int]]:
        return [self.scope] if self.scope else [(e.start, e.end) for e in self.edits]


@dataclass(frozen=True)
class Finding:
    rule: str
    name: str
    message: str
    severity: Severity
    line: int
    column: int = 1
    end_line: int | None = None
    fix: Fix | None = None
    # Why a fixable rule offers no fix here (for example an unknown base image).
    fix_unavailable: str | None = None
    path: str = ""
    # What the decision rests on, in sentences a maintainer can check ("data on a named volume").
    evidence: tuple[str, ...] = ()
    # The file's role (production, development, test, ...), set by the engine.
    role: str = ""

    def with_path(self, path: str) -> Finding:
        return replace(self, path=path)

    @property
    def tier(self) -> Tier | None:
        return self.fix.tier if self.fix else None


@dataclass(frozen=True)
class AppliedFix:
    """A fix that made it into the output, located in the original text."""

    rule: str
    name: str
    tier: Tier
    description: str
    line: int
    path: str = ""
    owns: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    # The fix's own edits, placed in the original text (empty when they edit text an earlier fix made):
    # applying just these to the original shows this one fix alone, as a review suggestion does.
    edits: tuple[Edit, ...] = ()
    evidence: tuple[str, ...] = ()  # what the fix rests on (Fix.evidence)


@dataclass(frozen=True)
class Skip:
    """Something hardener chose not to do, with the reason, for the summary."""

    reason: str
    line: int = 0
    rule: str = ""
    path: str = ""


class InputError(Exception):
    """Bad input: reported as one line naming file and line, exit code 2."""

    def __init__(self, message: str, line: int = 0, path: str = ""):
        super().__init__(message)
        self.message = message
        self.line = line
        self.path = path

    def __reduce__(self):
        return (InputError, (self.message, self.line, self.path))

    def __str__(self) -> str:
        where = self.path or "<input>"
        if self.line:
            where += f":{self.line}"
        return f"{where}: {self.message}"


class VerificationError(Exception):
    """A fixed text failed a check; the file is left as it was."""


@dataclass
class FixResult:
    original: str
    fixed: str
    findings: list[Finding] = field(default_factory=list)  # remaining, in the fixed text
    applied: list[AppliedFix] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    # Set when verification rejected the fixes: the file is left as it was.
    verification_error: str | None = None
    # Maps lines of `fixed` back to `original` (None when nothing changed).
    source_map: object = None
    # What re-read the fixed text, when fixes changed it: the kind's parser, and its own program if that ran.
    checks: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return self.fixed != self.original
