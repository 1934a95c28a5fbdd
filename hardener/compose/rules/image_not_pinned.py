from __future__ import annotations

from hardener.compose.pins import pin_targets
from hardener.model import Severity, Tier
from hardener.pinning import pin_findings
from hardener.rules.base import Example, Rule

_INDEX = "sha256:" + "c" * 64


class ComposeImageNotPinned(Rule):
    id = "HD207"
    name = "compose-image-not-pinned"
    kind = "compose"
    summary = "Pin service images to their multi-arch digest, keeping the tag"
    severity = Severity.WARNING
    tier = Tier.SAFE
    pins_images = True
    rationale = (
        "`image: redis:7` starts whatever `redis:7` means on the day the stack is pulled. Pinned as "
        "`redis:7@sha256:<digest>` it starts exactly the reviewed image on every host; Renovate and "
        "Dependabot keep the pin current. hardener pins the multi-arch index digest and leaves services "
        "that build their image, and images named through ${...} variables, alone."
    )
    references = ("CIS Docker Benchmark v1.6 5.28", "compose-lint CL-0004")
    valid = (
        f"services:\n  cache:\n    image: redis:7@{_INDEX}\n",
        "services:\n  app:\n    build: .\n    image: acme/app:dev\n",
    )
    invalid = (
        Example(
            'services:\n  cache:\n    image: "redis:7"  # cache\n',
            f'services:\n  cache:\n    image: "redis:7@{_INDEX}"  # cache\n',
            digests=(("redis:7", _INDEX),),
        ),
        Example("services:\n  db:\n    image: postgres:${PG_VERSION:-16}\n", None),
    )

    def check(self, document, context):
        yield from pin_findings(self, pin_targets(document), context.digests)
