from __future__ import annotations

from hardener.compose.fixes import Plan, apply_plan
from hardener.compose.services import image
from hardener.model import Severity, Tier
from hardener.policy import resource_limits
from hardener.rules.base import Example, Rule

# Each limit in the two styles Compose accepts: service keys, or deploy.resources.limits.
_SERVICE_KEYS = {"memory": ("mem_limit",), "cpus": ("cpus", "cpu_quota", "cpu_count"), "pids": ("pids_limit",)}
_SERVICE_NAMES = {"memory": "mem_limit", "cpus": "cpus", "pids": "pids_limit"}
_LABELS = {"memory": "memory", "cpus": "CPU", "pids": "pids", "mem_limit": "memory", "pids_limit": "pids"}


def _limits(service):
    deploy = service.get("deploy")
    resources = deploy.get("resources") if deploy is not None else None
    return resources.get("limits") if resources is not None else None


def file_uses_deploy(document) -> bool:
    return any(s.get("deploy") is not None for s in document.services)


class MissingResourceLimits(Rule):
    id = "HD203"
    name = "missing-resource-limits"
    kind = "compose"
    summary = "Limit each service's memory, CPU and process count"
    severity = Severity.WARNING
    tier = Tier.BEHAVIOUR_CHANGING
    rationale = (
        "A service without limits can take all of the host's memory, CPU or process table, so one bug or "
        "attack takes every other service down. The fix adds the limits from `memory-limit` (512m), "
        "`cpu-limit` (0.5) and `pids-limit` (256) that are missing, in `deploy.resources.limits` when the file "
        "already uses `deploy`, otherwise as `limits-style` says (service keys by default); it never changes a "
        "limit that is set. Check the values against the service's real use: databases and JVMs often need more."
    )
    references = (
        "CIS Docker Benchmark v1.6 5.11",
        "CIS Docker Benchmark v1.6 5.12",
        "CIS Docker Benchmark v1.6 5.29",
        "KICS bb9ac4f7",
    )
    valid = (
        "services:\n  web:\n    image: nginx:1.27\n    mem_limit: 256m\n    cpus: 1\n    pids_limit: 100\n",
        "services:\n  web:\n    image: nginx:1.27\n    deploy:\n      resources:\n        limits: {memory: 1g, cpus: '2', pids: 50}\n",
    )
    invalid = (
        Example(
            "services:\n  web:\n    image: nginx:1.27\n    mem_limit: 1g\n",
            "services:\n  web:\n    image: nginx:1.27\n    mem_limit: 1g\n    cpus: 0.5\n    pids_limit: 256\n",
        ),
        Example(
            "services:\n  web:\n    image: nginx:1.27\n    deploy:\n      replicas: 2\n  worker:\n    image: busybox:1\n",
            "services:\n  web:\n    image: nginx:1.27\n    deploy:\n      replicas: 2\n      resources:\n        limits:\n"
            "          memory: 512m\n          cpus: 0.5\n          pids: 256\n  worker:\n    image: busybox:1\n"
            "    deploy:\n      resources:\n        limits:\n          memory: 512m\n          cpus: 0.5\n          pids: 256\n",
        ),
    )

    def plan(self, service, config, uses_deploy: bool) -> Plan | None:
        limits_for = resource_limits(image(service), config)
        defaults = {"memory": limits_for.memory, "cpus": limits_for.cpus, "pids": str(limits_for.pids)}
        limits = _limits(service)
        in_deploy = {k for k in defaults if limits is not None and limits.get(k) is not None}
        in_service = {k for k, keys in _SERVICE_KEYS.items() if any(service.get(key) is not None for key in keys)}
        missing = [k for k in defaults if k not in in_deploy | in_service]
        if not missing:
            return None
        if in_service and not in_deploy:
            use_deploy = False
        elif in_deploy and not in_service:
            use_deploy = True
        else:
            use_deploy = uses_deploy or config.limits_style == "deploy"
        if use_deploy:
            values = tuple((k, defaults[k]) for k in missing)
            return Plan(scalars=values, nested=("deploy", "resources", "limits"), keys=("deploy",))
        values = tuple((_SERVICE_NAMES[k], defaults[k]) for k in missing)
        return Plan(scalars=values, keys=tuple(k for k, _ in values))

    def check(self, document, context):
        config = context.config
        uses_deploy = file_uses_deploy(document)
        for service in document.standalone_services:
            plan = self.plan(service, config, uses_deploy)
            if plan is None:
                continue
            edits, reason, owns = apply_plan(
                document, service, plan, config, lambda s: self.plan(s, config, uses_deploy)
            )
            limited = ", ".join(f"{k} to {v}" for k, v in plan.scalars)
            yield self.finding(
                service.key.line,
                f"service {service.name!r} has no {' or '.join(_LABELS[k] for k, _ in plan.scalars)} limit",
                edits=edits,
                description=f"limited {limited}",
                fix_unavailable=reason,
                owns=owns,
            )
