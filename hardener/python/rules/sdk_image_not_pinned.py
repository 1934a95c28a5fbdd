from __future__ import annotations

from hardener.model import Severity, Tier
from hardener.pinning import pin_findings
from hardener.python.pins import pin_targets
from hardener.rules.base import Example, Rule

_INDEX = "sha256:" + "d" * 64


class SdkImageNotPinned(Rule):
    id = "HD306"
    name = "sdk-image-not-pinned"
    kind = "python"
    summary = "Pin image literals passed to containers.run/create to their multi-arch digest"
    severity = Severity.WARNING
    tier = Tier.SAFE
    pins_images = True
    rationale = (
        "As for Dockerfiles and compose (HD112, HD207): a tag moves, a digest does not. The fix writes "
        "`name:tag@sha256:<index digest>` inside the string literal, keeping the name and tag."
    )
    references = ("CIS Docker Benchmark v1.6 5.28",)
    valid = (f'import docker\ndocker.from_env().containers.run("redis:7@{_INDEX}")\n',)
    invalid = (
        Example(
            "import docker\ndocker.from_env().containers.run(image='redis:7')\n",
            f"import docker\ndocker.from_env().containers.run(image='redis:7@{_INDEX}')\n",
            digests=(("redis:7", _INDEX),),
        ),
    )

    def check(self, document, context):
        yield from pin_findings(self, pin_targets(document), context.digests)
