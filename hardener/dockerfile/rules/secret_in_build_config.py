from __future__ import annotations

from hardener.dockerfile.document import parse_arg_values
from hardener.model import Severity
from hardener.rules.base import Example, Rule
from hardener.secret_names import looks_secret


def secret_names(instr) -> list[str]:
    """Names set by an ENV or ARG instruction that look like they hold a secret."""
    if instr.keyword == "ARG":
        names = list(parse_arg_values(instr.value))
    else:
        # BuildKit gives ENV as name, value, name, value ...
        names = list(instr.value[0::2])
    return [n for n in names if looks_secret(n)]


class SecretInBuildConfig(Rule):
    id = "HD107"
    name = "secret-in-build-config"
    kind = "dockerfile"
    summary = "Secrets must not be set with ENV or ARG"
    severity = Severity.ERROR
    rationale = (
        "ENV values are stored in the image and ARG values in its build history: anyone who can pull the "
        "image can read them. Pass secrets at run time, or to the build with `RUN --mount=type=secret`."
    )
    references = ("hadolint DL3064", "CIS Docker Benchmark v1.6 4.10", "Trivy DS-0031")
    hadolint = ("DL3064",)
    valid = ("FROM debian:12\nENV POSTGRES_PASSWORD_FILE=/run/secrets/db\nARG VERSION=1\n",)
    invalid = (
        Example("FROM debian:12\nENV DB_PASSWORD=hunter2\n"),
        Example("FROM debian:12\nARG GITHUB_TOKEN\nRUN git clone https://$GITHUB_TOKEN@github.com/acme/x\n"),
        Example("FROM debian:12\nENV API_KEY abc123\n"),
    )

    def check(self, document, context):
        for instr in document.instructions:
            if instr.keyword not in ("ENV", "ARG"):
                continue
            for name in secret_names(instr):
                # Never repeat the value: only the name goes into the message.
                yield self.finding(
                    instr.start_line,
                    f"{instr.keyword} {name} looks like a secret and is stored in the image; "
                    "use `RUN --mount=type=secret` or pass it at run time",
                )
