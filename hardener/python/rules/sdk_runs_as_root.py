from __future__ import annotations

from hardener.model import Severity, Tier
from hardener.policy import non_root_user
from hardener.python.fixes import image_name, plan_edits
from hardener.rules.base import Example, Rule


class SdkRunsAsRoot(Rule):
    id = "HD305"
    name = "sdk-runs-as-root"
    kind = "python"
    summary = "Start images that support it as their non-root user"
    severity = Severity.WARNING
    tier = Tier.BEHAVIOUR_CHANGING
    rationale = (
        "As in compose (HD205): images such as postgres, mysql, redis and mongo run correctly as their own "
        "user; the fix adds `user=`. Existing data must then already belong to that user."
    )
    references = ("CIS Docker Benchmark v1.6 4.1",)
    valid = ('import docker\ndocker.from_env().containers.run("redis:7", user="redis")\n',)
    invalid = (
        Example(
            'import docker\ndocker.from_env().containers.run("redis:7")\n',
            'import docker\ndocker.from_env().containers.run("redis:7", user="redis")\n',
        ),
    )

    def check(self, document, context):
        for call in document.calls:
            image = image_name(call)
            if not image or call.keyword("user") is not None:
                continue
            user = non_root_user(image, context.config)
            if user is None:
                continue
            edits, reason = plan_edits(document, call, scalars={"user": user})
            yield self.finding(
                call.line,
                f"{call.label} starts `{image}` as root, though it runs as `{user}`",
                edits=edits,
                fix_unavailable=reason,
                description=f"set user={user!r}",
                scope=call.scope,
            )
