from __future__ import annotations

from hardener.compose.fixes import Plan, apply_plan
from hardener.compose.services import image
from hardener.model import Severity, Tier
from hardener.policy import non_root_user
from hardener.rules.base import Example, Rule


class ServiceRunsAsRoot(Rule):
    id = "HD205"
    name = "service-runs-as-root"
    kind = "compose"
    summary = "Run images that support it as their non-root user"
    severity = Severity.WARNING
    tier = Tier.BEHAVIOUR_CHANGING
    rationale = (
        "Official database images start as root only to fix ownership of their data folder before "
        "stepping down. Started directly as their own user (postgres, mysql, redis, mongodb) they skip that "
        "step and never hold root. The fix adds `user:` for images known to support it. Existing data and "
        "bind mounts must then already belong to that user."
    )
    references = ("CIS Docker Benchmark v1.6 4.1", "CIS Docker Benchmark v1.6 5.31")
    valid = (
        "services:\n  db:\n    image: postgres:16\n    user: postgres\n",
        "services:\n  app:\n    image: example/app:1\n",
    )
    invalid = (
        Example(
            "services:\n  cache:\n    image: redis:7-alpine\n",
            "services:\n  cache:\n    image: redis:7-alpine\n    user: redis\n",
        ),
        Example("services:\n  db:\n    image: postgres:16\n    user: root\n", None),
    )

    def plan(self, service, config) -> Plan | None:
        if service.scalar("user") is not None:
            return None
        user = non_root_user(image(service), config)
        return Plan(scalars=(("user", user),), keys=("user",)) if user else None

    def check(self, document, context):
        config = context.config
        for service in document.standalone_services:
            user = service.scalar("user")
            if user is not None and user.split(":")[0] in ("root", "0"):
                yield self.finding(
                    service.get("user").line,
                    f"service {service.name!r} runs as root explicitly",
                    fix_unavailable="`user: root` is set on purpose",
                )
                continue
            plan = self.plan(service, config)
            if plan is None:
                continue
            user = dict(plan.scalars)["user"]
            edits, reason, owns = apply_plan(document, service, plan, config, lambda s: self.plan(s, config))
            yield self.finding(
                service.key.line,
                f"service {service.name!r} starts `{image(service)}` as root, though it runs as `{user}`",
                edits=edits,
                description=f"set `user: {user}`",
                fix_unavailable=reason,
                owns=owns,
            )
