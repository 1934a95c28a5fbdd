from __future__ import annotations

from hardener.model import Severity
from hardener.rules.base import Example
from hardener.rules.common import PragmaRule

_PYTHON = 'import docker\n\nclient = docker.from_env()\n{}client.containers.run("nginx:1.27"){}\n'
VALID = (
    "# hardener: ignore=HD101,sudo-in-run,HD1 -- ids, names and id prefixes\nFROM debian:12\n",
    "# hardener: global ignore=ALL\nFROM debian:12\n",
    "# hadolint ignore=DL3008,SC2086 -- hadolint's own codes are hadolint's business\nFROM debian:12\n",
)
INVALID = (
    Example("# hardener: ignore=HD999\nFROM debian:12\n"),
    Example("# hardener: global ignore=HD109, not-a-rule -- no health check here\nFROM debian:12\n"),
)


class UnknownSuppressionCode(PragmaRule):
    id = "HD001"
    name = "unknown-rule-in-suppression"
    summary = "A `# hardener: ignore=` pragma names a rule that does not exist"
    severity = Severity.WARNING
    rationale = (
        "A suppression silences the rules it names by id, id prefix or name (or ALL). A code that is none "
        "of those, a typo or a rule number that never existed, silences nothing, so the finding it was "
        "meant for is still reported, or worse, the pragma looks like it documents a decision nobody made. "
        "Check the id with `hardener rules`. Codes in `# hadolint ignore=` pragmas are hadolint's and are "
        "not checked."
    )
    references = ("ruff RUF102",)
    valid = VALID
    invalid = INVALID
    examples_in = {
        "dockerfile": (VALID, INVALID),
        "compose": (
            ("services:\n  web:\n    image: nginx:1.27  # hardener: ignore=HD207,compose-image-not-pinned\n",),
            (Example("services:\n  web:\n    # hardener: ignore=HD299\n    image: nginx:1.27\n"),),
        ),
        "python": (
            (_PYTHON.format("# hardener: ignore=HD306\n", ""),),
            (Example(_PYTHON.format("", "  # hardener: ignore=sdk-privileged")),),
        ),
    }

    def check(self, document, context):
        from hardener.rules import validate_selectors

        suppressions = context.suppressions
        for pragma in suppressions.pragmas:
            if pragma.tool != "hardener":
                continue  # unknown DL and SC codes are for hadolint to judge
            for code in pragma.codes:
                if validate_selectors((code.text,), context.kind) is not None:
                    column = suppressions.index.position(code.start)[1]
                    yield self.finding(
                        pragma.line,
                        f"the suppression names {code.text}, which is no rule id, id prefix or name",
                        column=column,
                    )
