"""What every rule is: metadata, documentation, examples and one check."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from hardener.config import Config
from hardener.evidence.repository import Repository
from hardener.model import Finding, Fix, Severity, Tier

# Each rule's page, generated from its class by `python -m hardener.rules.docs`, and where it is read online.
RULE_DOCS_FOLDER = "docs/rules"
RULE_DOCS_URL = "https://github.com/hardener/hardener/blob/main/" + RULE_DOCS_FOLDER


@dataclass(frozen=True)
class Example:
    """A case that runs as a test.

    `after` is the expected text once every fix is applied with
    --unsafe-fixes; None means the rule reports and the text stays as it is.
    """

    before: str
    after: str | None = None
    # Digests the registry would return, for pinning examples: ((reference, digest), ...).
    digests: tuple[tuple[str, str], ...] = ()
    # Where the file lies in its repository ("" for the kind's usual name at the top), and the other files
    # of that repository the decision reads: ((path, text), ...), e.g. the entrypoint script.
    path: str = ""
    files: tuple[tuple[str, str], ...] = ()
    # Words the finding's reason (why no fix, or the evidence of the fix) must contain.
    reason: str = ""


@dataclass(frozen=True)
class Context:
    config: Config
    # Registry answers for image references (pinning.reference_key -> Resolution), from the edge.
    digests: Mapping = field(default_factory=dict)
    # The repository the file belongs to, as read at the edge (evidence.Repository), and the file's
    # path in it; an empty repository when a text is checked on its own.
    repository: Repository = field(default_factory=lambda: Repository())
    path: str = ""
    # Whether the file's role lets fixes be made (production files; see hardener.evidence.roles), so a
    # rule can tell what another rule's fix will do to the same service.
    role_fixes: bool = True


class Rule:
    id: ClassVar[str]
    name: ClassVar[str]  # kebab-case, names the pattern found
    kind: ClassVar[str]  # the file kind it checks, e.g. "dockerfile"
    summary: ClassVar[str]
    severity: ClassVar[Severity] = Severity.WARNING
    # The tier of the fix this rule offers; None for report-only rules.
    tier: ClassVar[Tier | None] = None
    rationale: ClassVar[str]
    references: ClassVar[tuple[str, ...]] = ()
    # hadolint codes whose `# hadolint ignore=` pragma also silences this rule.
    hadolint: ClassVar[tuple[str, ...]] = ()
    # The setting without which the rule is off unless selected by name (a list of trusted registries).
    requires_setting: ClassVar[str | None] = None
    # A rule that pins image references: the edge resolves their digests before the run.
    pins_images: ClassVar[bool] = False
    valid: ClassVar[tuple[str, ...]] = ()
    invalid: ClassVar[tuple[Example, ...]] = ()

    def check(self, document, context: Context) -> Iterable[Finding]:
        raise NotImplementedError

    def finding(
        self,
        line: int,
        message: str,
        *,
        column: int = 1,
        end_line: int | None = None,
        edits=None,
        description: str = "",
        fix_unavailable: str | None = None,
        scope: tuple[int, int] | None = None,
        owns: tuple[str, ...] = (),
        requires: tuple[str, ...] = (),
        evidence: tuple[str, ...] = (),
    ) -> Finding:
        fix = None
        if edits:
            assert self.tier is not None, f"{self.id} is report-only"
            fix = Fix(self.tier, tuple(edits), description or self.summary, scope, owns, requires, tuple(evidence))
        return Finding(
            rule=self.id,
            name=self.name,
            message=message,
            severity=self.severity,
            line=line,
            column=column,
            end_line=end_line,
            fix=fix,
            fix_unavailable=fix_unavailable,
            evidence=tuple(evidence),
        )

    @classmethod
    def fix_kind(cls) -> str:
        return cls.tier.value if cls.tier else "report only"

    @classmethod
    def doc_name(cls) -> str:
        """The file name of the rule's page in the rule documentation folder."""
        return f"{cls.id}.md"

    @classmethod
    def help_uri(cls) -> str:
        """Where the rule's page is read online (SARIF `helpUri`)."""
        return f"{RULE_DOCS_URL}/{cls.doc_name()}"

    @classmethod
    def matches(cls, selector: str) -> bool:
        """`HD101`, a prefix such as `HD1`, the rule's name, or `ALL`."""
        s = selector.strip()
        return s.upper() == "ALL" or cls.id.startswith(s.upper()) or cls.name == s.lower()
