from __future__ import annotations

from hardener.model import Severity, Tier
from hardener.rules.base import Example
from hardener.rules.common import PragmaRule

_PYTHON = 'import docker\n\nclient = docker.from_env()\n{}client.containers.run("nginx:1.27")\n'
VALID = (
    # HD101 does not run when only this rule is selected: whether the pragma is needed is not known.
    "# hardener: ignore=HD101 -- the entrypoint steps down itself\nFROM python:3.12-slim\n",
    "# hadolint ignore=DL3007 -- hadolint's pragmas serve hadolint too\nFROM python:latest\n",
)
INVALID = (
    Example(
        "# hardener: ignore=HD207 -- the compose rule, not this file's\nFROM python:3.12-slim\n",
        "FROM python:3.12-slim\n",
    ),
    Example(
        "FROM python:3.12-slim\n# hardener: ignore=HD112, HD207\nCOPY --from=ghcr.io/astral-sh/uv:0.5 /uv /bin/uv\n",
        "FROM python:3.12-slim\n# hardener: ignore=HD112\nCOPY --from=ghcr.io/astral-sh/uv:0.5 /uv /bin/uv\n",
    ),
)


class UnusedSuppression(PragmaRule):
    id = "HD002"
    name = "unused-suppression"
    summary = "A `# hardener: ignore=` pragma, or one of its codes, silenced nothing"
    severity = Severity.INFO
    tier = Tier.SAFE
    opt_in = True
    reads_suppressions = True
    edits_comments = True
    rationale = (
        "A suppression that silences nothing is left over from code that changed, or sits where no finding "
        "lands: it hides the next real finding there and documents a decision that no longer applies. Off "
        "unless selected (`--select HD002`, or ALL). A code is judged only when every rule it names ran: a "
        "suppression for a rule that is not selected is not reported, and neither are `# hadolint ignore=` "
        "pragmas, which hadolint reads too. The fix takes the unused codes out, or the whole comment when no "
        "code is left; it is reported without a fix where the comment may be inside a string or a block "
        "scalar, or where removing the line could turn the next comment into a parser directive."
    )
    references = ("ruff RUF100",)
    valid = VALID
    invalid = INVALID
    examples_in = {
        "dockerfile": (VALID, INVALID),
        "compose": (
            ("services:\n  web:\n    image: nginx:1.27  # hardener: ignore=HD207\n",),
            (
                Example(
                    "services:\n  web:\n    # hardener: ignore=HD112\n    image: nginx:1.27\n",
                    "services:\n  web:\n    image: nginx:1.27\n",
                ),
                Example(
                    "services:\n  web:\n    image: nginx:1.27  # hardener: ignore=HD306 -- why\n",
                    "services:\n  web:\n    image: nginx:1.27\n",
                ),
            ),
        ),
        "python": (
            (_PYTHON.format("# hardener: ignore=HD306\n"),),
            (Example(_PYTHON.format("# hardener: ignore=HD207\n"), _PYTHON.format("")),),
        ),
    }

    def check(self, document, context):
        suppressions = context.suppressions
        judges = [r for r in context.kind_rules if not getattr(r, "reads_suppressions", False)]
        for pragma in suppressions.pragmas:
            if pragma.tool != "hardener":
                continue  # hadolint reads its pragmas too: whether it needs them is not known here
            unused = [
                c for c in pragma.codes if c not in suppressions.silenced and self._judged(c.text, judges, context)
            ]
            if not unused:
                continue
            edits = suppressions.removal(pragma, unused)
            names = ", ".join(c.text for c in unused)
            whole = len(unused) == len(pragma.codes)
            yield self.finding(
                pragma.line,
                f"unused suppression: {names} silenced nothing"
                + (" here" if not pragma.is_global else " in this file"),
                column=suppressions.index.position(unused[0].start)[1],
                edits=edits,
                description="Remove the unused suppression" if whole else f"Remove {names} from the suppression",
                fix_unavailable=None
                if edits
                else "unused suppression left in place: the comment may be inside a string, or its removal change the next line's meaning",
            )

    @staticmethod
    def _judged(code: str, judges, context) -> bool:
        """Whether a code that silenced nothing can be called unused: every rule it names ran."""
        from hardener.rules import validate_selectors

        named = [r for r in judges if r.matches(code)]
        if any(r.id not in context.selected for r in named):
            return False  # a rule that did not run might have needed it
        # A code naming no rule of any kind is reported as unknown, not as unused.
        return bool(named) or validate_selectors((code,), context.kind) is None
