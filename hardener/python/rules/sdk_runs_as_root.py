from __future__ import annotations

from hardener.images import ImageRef, profile_for, runtime_needs
from hardener.model import Severity, Tier
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
            needs = runtime_needs(image, context.config.image_capabilities)
            profile = profile_for(ImageRef.parse(image))
            if needs is None or needs.user is None or (profile is not None and profile.runs_as_non_root):
                continue
            edits, reason = plan_edits(document, call, scalars={"user": needs.user})
            yield self.finding(
                call.line,
                f"containers.{call.method}() starts `{image}` as root, though it runs as `{needs.user}`",
                edits=edits,
                fix_unavailable=reason,
                description=f"set user={needs.user!r}",
                scope=(call.start, call.end),
            )
